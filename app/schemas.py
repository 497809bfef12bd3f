"""marshmallow schemas: input and output kept apart; inputs reject unknown fields."""
from urllib.parse import urlsplit

import marshmallow as ma
from marshmallow import RAISE, fields, validate

from app.services.consent import METHODS

BROWSER_METHODS = tuple(m for m in METHODS if m != "api")


def StrictBool(**kwargs):
    """A boolean that is JSON true or false, not "yes", 1 or "on"."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class StrictSchema(ma.Schema):
    class Meta:
        unknown = RAISE


def _page_url(value):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ma.ValidationError("must be an http(s) URL")


class ConsentIn(StrictSchema):
    """A decision sent by the widget (JSON, also accepted as text/plain)."""

    site_key = fields.String(required=True, validate=validate.Length(1, 32))
    visitor_id = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_.:-]{8,64}$", error="8 to 64 characters: letters, digits, _ . : -"))
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


class PurposeConfig(ma.Schema):
    slug = fields.String()
    title = fields.String()
    description = fields.String()
    basis = fields.String()
    default = fields.Boolean()
    locked = fields.Boolean()
    consent_mode = fields.List(fields.String())
    cookies = fields.List(fields.String())
    storage = fields.List(fields.String())


class SiteConfigOut(ma.Schema):
    """A site's configuration resolved for the calling visitor."""

    site_key = fields.String()
    endpoint = fields.String()
    regime = fields.String(metadata={"description": "opt_in, opt_out or notice"})
    gpc_policy = fields.String()
    country = fields.String(allow_none=True)
    region = fields.String(allow_none=True, metadata={"description": "ISO 3166-2, e.g. US-CA"})
    language = fields.String()
    dir = fields.String()
    policy = fields.Dict(allow_none=True)
    validity_days = fields.Integer()
    gpc_header = fields.Boolean()
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    purposes = fields.List(fields.Nested(PurposeConfig))
    consent_mode = fields.Dict()
