"""A visitor's decision, as the widget sends it and as the server answers it.

`fast_consent_input` is ConsentIn for the ordinary body, without marshmallow's cost: it accepts
only what ConsentIn accepts, loads it alike (tests hold it to that), and returns None for
anything else, which then goes through ConsentIn for its result or its error messages.
"""
import re
from urllib.parse import urlsplit

import marshmallow as ma
from marshmallow import fields, validate

from app.ledger.rules import METHODS, is_visitor_id, is_visitor_secret
from app.schemas.common import (
    HTTP_URL,
    LANGUAGE_LENGTH,
    PAGE_URL_MAX,
    POLICY_VERSION_MAX,
    SHA256_HEX,
    SHA256_HEX_PATTERN,
    SITE_KEY_MAX,
    SLUG_MAX,
    VISITOR_ID,
    VISITOR_SECRET,
    StrictBool,
    StrictSchema,
)

BROWSER_METHODS = tuple(m for m in METHODS if m != "api")


def _parses(value):
    """Whether the URL parser takes it: not an unbalanced [ or ] in the host, nor characters that
    NFKC turns into / ? # @ : (which urlsplit refuses with a ValueError)."""
    try:
        urlsplit(value)
    except ValueError:
        return False
    return True


def is_page_url(value):
    """What a page_url must be: HTTP_URL's pattern (no NUL, which no database stores), and parseable."""
    return HTTP_URL.regex.fullmatch(value) is not None and _parses(value)


def _page_url(value):
    if not _parses(value):
        raise ma.ValidationError("must be an http(s) URL")


class ConsentIn(StrictSchema):
    """A decision sent by the widget (JSON, also accepted as text/plain)."""

    site_key = fields.String(required=True, validate=validate.Length(1, SITE_KEY_MAX))
    visitor_id = fields.String(required=True, validate=VISITOR_ID)
    visitor_secret = fields.String(required=True, validate=VISITOR_SECRET, load_only=True, metadata={
        "description": "Random, kept by the browser beside its visitor_id and sent with every write: the first"
                       " write binds it, and a write for that visitor without it is refused (403)"})
    client_record_id = fields.UUID(required=True, metadata={"description": "Made by the client; repeats are idempotent"})
    decisions = fields.Dict(keys=fields.String(validate=validate.Length(1, SLUG_MAX)), values=StrictBool(),
                            required=True)
    method = fields.String(required=True, validate=validate.OneOf(BROWSER_METHODS))
    policy_version = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, POLICY_VERSION_MAX))
    language = fields.String(load_default=None, allow_none=True, validate=validate.Length(*LANGUAGE_LENGTH))
    page_url = fields.String(load_default=None, allow_none=True,
                             validate=[validate.Length(max=PAGE_URL_MAX), HTTP_URL, _page_url])
    gpc = StrictBool(load_default=False)
    widget_build = fields.String(load_default=None, allow_none=True, validate=SHA256_HEX, metadata={
        "description": "The configuration's widget_build: the SHA-256 of the widget that collected the decision;"
                       " one this server has not served is refused"})

    @ma.post_load
    def _stringify(self, data, **kwargs):
        data["client_record_id"] = str(data["client_record_id"])
        return data


class ConsentOut(ma.Schema):
    """What the server answers for a recorded decision."""

    record_id = fields.String()
    receipt = fields.String(metadata={"description": "itsdangerous token of the record, signed with the site's receipt key"})
    event = fields.String()
    regime = fields.String()
    country = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    decisions = fields.Dict(keys=fields.String(), values=fields.Boolean())
    decided_at = fields.DateTime()
    expires_at = fields.DateTime()


_VISITOR = is_visitor_id
_SECRET = is_visitor_secret
# the canonical form fields.UUID loads to (str(uuid.UUID(...))): any other spelling takes the schema
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z").match
_REQUIRED = frozenset(("site_key", "visitor_id", "visitor_secret", "client_record_id", "decisions", "method"))
_FIELDS = _REQUIRED | {"policy_version", "language", "page_url", "gpc", "widget_build"}
_SHA256 = re.compile(SHA256_HEX_PATTERN.replace("$", r"\Z")).match
_METHODS = frozenset(BROWSER_METHODS)


def _text(value, lo, hi):
    return type(value) is str and lo <= len(value) <= hi


def _optional_text(value, lo, hi):
    return value is None or _text(value, lo, hi)


def fast_consent_input(body):
    """ConsentIn's result for a body it certainly accepts, else None (let the schema speak)."""
    if type(body) is not dict or not _REQUIRED <= body.keys() or not body.keys() <= _FIELDS:
        return None
    decisions = body["decisions"]
    if not (_text(body["site_key"], 1, SITE_KEY_MAX) and type(body["visitor_id"]) is str and _VISITOR(body["visitor_id"])
            and type(body["visitor_secret"]) is str and _SECRET(body["visitor_secret"])
            and type(body["client_record_id"]) is str and _UUID(body["client_record_id"])
            and type(decisions) is dict and type(body["method"]) is str and body["method"] in _METHODS):
        return None
    for slug, value in decisions.items():
        if not (1 <= len(slug) <= SLUG_MAX and type(value) is bool):
            return None
    page_url = body.get("page_url")
    if not (_optional_text(body.get("policy_version"), 1, POLICY_VERSION_MAX)
            and _optional_text(body.get("language"), *LANGUAGE_LENGTH)
            and (page_url is None or (_text(page_url, 0, PAGE_URL_MAX) and is_page_url(page_url)))
            and type(body.get("gpc", False)) is bool):
        return None
    build = body.get("widget_build")
    if build is not None and not (type(build) is str and _SHA256(build)):
        return None
    return {
        "site_key": body["site_key"], "visitor_id": body["visitor_id"], "visitor_secret": body["visitor_secret"],
        "client_record_id": body["client_record_id"],
        "decisions": decisions, "method": body["method"], "policy_version": body.get("policy_version"),
        "language": body.get("language"), "page_url": page_url, "gpc": body.get("gpc", False),
        "widget_build": build,
    }
