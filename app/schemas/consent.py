"""A visitor's decision, as the widget sends it and as the server answers it."""
from urllib.parse import urlsplit

import marshmallow as ma
from marshmallow import fields, validate

from app.ledger.rules import METHODS
from app.schemas.common import VISITOR_ID, StrictBool, StrictSchema

BROWSER_METHODS = tuple(m for m in METHODS if m != "api")


def is_page_url(value):
    """An absolute http(s) URL (what a page_url must be), without NUL (no database stores it)."""
    if "\x00" in value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _page_url(value):
    if not is_page_url(value):
        raise ma.ValidationError("must be an http(s) URL")


class ConsentIn(StrictSchema):
    """A decision sent by the widget (JSON, also accepted as text/plain)."""

    site_key = fields.String(required=True, validate=validate.Length(1, 32))
    visitor_id = fields.String(required=True, validate=VISITOR_ID)
    client_record_id = fields.UUID(required=True, metadata={"description": "Made by the client; repeats are idempotent"})
    decisions = fields.Dict(keys=fields.String(validate=validate.Length(1, 64)), values=StrictBool(),
                            required=True)
    method = fields.String(required=True, validate=validate.OneOf(BROWSER_METHODS))
    policy_version = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    language = fields.String(load_default=None, allow_none=True, validate=validate.Length(2, 16))
    page_url = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=2048), _page_url])
    gpc = StrictBool(load_default=False)

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
