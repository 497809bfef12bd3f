"""marshmallow schemas: input and output kept apart; inputs reject unknown fields."""
from urllib.parse import urlsplit

import marshmallow as ma
from marshmallow import RAISE, fields, validate

from app.services.consent import METHODS, VISITOR_ID_PATTERN

BROWSER_METHODS = tuple(m for m in METHODS if m != "api")


def StrictBool(**kwargs):
    """A boolean that is JSON true or false, not "yes", 1 or "on"."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


VISITOR_ID = validate.Regexp(VISITOR_ID_PATTERN, error="8 to 64 characters: letters, digits, _ . : -")


class StrictSchema(ma.Schema):
    class Meta:
        unknown = RAISE


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
    sale_share = fields.Boolean()


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


# --- the server API (collectors): consent checks, visitor state, ledger export, receipts -------

class ConsentCheckIn(StrictSchema):
    """Is this purpose allowed for this visitor? The optional fields only matter with no record."""

    visitor_id = fields.String(validate=VISITOR_ID, metadata={"description": "Required unless `email` is given"})
    purpose = fields.String(required=True, validate=validate.Length(1, 64))
    # issue 5: {"email", "purpose": "email_marketing"} asks about an address instead of a visitor
    email = fields.String(validate=validate.Length(1, 320), metadata={
        "description": "With purpose email_marketing: may this address be emailed? (no visitor_id)"})
    ip = fields.IP(load_default=None, allow_none=True, metadata={
        "description": "The visitor's address as the caller saw it: sets the regime when nothing is recorded"})
    country = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z]{2}$"),
                            metadata={"description": "ISO 3166-1 alpha-2, used when there is no record and no ip"})
    region = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z]{2}-[A-Za-z0-9]{1,3}$"),
                           metadata={"description": "ISO 3166-2, e.g. US-CA"})
    gpc = StrictBool(load_default=False, metadata={
        "description": "The visitor's request carried Sec-GPC: 1; denies sale-and-share purposes"})

    @ma.validates_schema(skip_on_field_errors=False)
    def _visitor_or_email(self, data, **kwargs):
        if "email" in data:
            if "visitor_id" in data or data.get("purpose", "email_marketing") != "email_marketing":
                raise ma.ValidationError("an email is checked alone, for purpose email_marketing", "email")
        elif "visitor_id" not in data:
            raise ma.ValidationError("Missing data for required field.", "visitor_id")

    @ma.post_load
    def _ip_text(self, data, **kwargs):
        if data.get("ip") is not None:
            data["ip"] = str(data["ip"])
        return data


class ConsentCheckOut(ma.Schema):
    """The answer for one purpose of one visitor."""

    allowed = fields.Boolean()
    basis = fields.String(metadata={"description": "What decided: necessary, record, default or gpc"})
    reason = fields.String(metadata={"description": (
        "granted, refused, necessary, no_record_opt_in, default_on, default_off, expired, "
        "policy_superseded, gpc_optout, unknown_purpose (batch only)")})
    regime = fields.String()
    record_id = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    policy_version = fields.String(allow_none=True)


class ConsentCheckBatchIn(StrictSchema):
    """Up to 10,000 checks answered in one call, in the same order."""

    items = fields.List(fields.Nested(ConsentCheckIn), required=True)


class ConsentCheckBatchOut(ma.Schema):
    results = fields.List(fields.Nested(ConsentCheckOut))


class VisitorConsentOut(ma.Schema):
    """A visitor's current state per purpose, and the record that decided it."""

    visitor_id = fields.String()
    record_id = fields.String()
    regime = fields.String()
    decided_at = fields.String(metadata={"format": "date-time"})
    expires_at = fields.String(metadata={"format": "date-time"})
    policy_version = fields.String(allow_none=True)
    gpc = fields.Boolean()
    purposes = fields.Dict(keys=fields.String(), values=fields.Nested(ConsentCheckOut))


class LedgerExportArgs(StrictSchema):
    """Filters and paging of the ledger export (query string)."""

    from_ = fields.AwareDateTime(data_key="from", load_default=None, default_timezone=None,
                                 metadata={"description": "Records created at or after (ISO 8601 with zone)"})
    to = fields.AwareDateTime(load_default=None, metadata={"description": "Records created before"})
    visitor_id = fields.String(load_default=None, validate=VISITOR_ID)
    cursor = fields.String(load_default=None, validate=validate.Length(1, 200),
                           metadata={"description": "`next_cursor` of the previous page"})
    limit = fields.Integer(load_default=10_000, validate=validate.Range(1, 1_000_000))
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv", "kantara")),
                           metadata={"description": "json (default), csv (also `Accept: text/csv`) or kantara"})


class LedgerExportOut(ma.Schema):
    """A page of the ledger; `next_cursor` is null on the last page (also in the Link header)."""

    records = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)


class ReceiptVerifyIn(StrictSchema):
    receipt = fields.String(required=True, validate=validate.Length(1, 16 * 1024))


class ReceiptVerifyOut(ma.Schema):
    """Whether a receipt is authentic, unexpired and still the visitor's current decision."""

    authentic = fields.Boolean()
    unexpired = fields.Boolean()
    current = fields.Boolean()
    reason = fields.String(metadata={"description": (
        "current, not_current, expired, policy_superseded, bad_signature, malformed")})
    record = fields.Dict(allow_none=True, metadata={"description": "The decoded receipt payload"})
    current_record_id = fields.String(allow_none=True)
