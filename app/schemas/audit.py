"""The audit log: its filters and paging, and a page of entries."""
import marshmallow as ma
from marshmallow import fields, validate

from app.schemas.common import StrictSchema
from app.services.audit import ACTIONS, DEFAULT_LIMIT, MAX_LIMIT


class AuditLogArgs(StrictSchema):
    """Filters and paging of the audit log (query string)."""

    from_ = fields.AwareDateTime(data_key="from", load_default=None,
                                 metadata={"description": "Entries at or after (ISO 8601 with zone)"})
    to = fields.AwareDateTime(load_default=None, metadata={"description": "Entries before"})
    action = fields.String(load_default=None, validate=validate.OneOf(ACTIONS))
    actor = fields.String(load_default=None, validate=validate.Length(1, 200), metadata={
        "description": "Entries of this actor only, exactly as entries name it: key:<API key id>, "
                       "cli:<user>@<host>, user:<dashboard user id>, system, visitor"})
    cursor = fields.String(load_default=None, validate=validate.Length(1, 200),
                           metadata={"description": "`next_cursor` of the previous page"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "json (default) or csv (also `Accept: text/csv`)"})


class AuditTargetOut(ma.Schema):
    kind = fields.String(metadata={"description": "site, api_key, webhook, ledger, installation, or a person's "
                                                  "keyed hash: email, external_id, visitor"})
    id = fields.String(allow_none=True)


class AuditEntryOut(ma.Schema):
    """One audited action. No personal data: a person only as the site's keyed hash."""

    id = fields.Integer()
    time = fields.DateTime()
    site_key = fields.String(allow_none=True)
    actor = fields.String(metadata={"description": "key:<API key id>, cli:<user>@<host>, user:<dashboard user id>, "
                                                   "system, visitor, anonymous"})
    action = fields.String()
    target = fields.Nested(AuditTargetOut)
    client_ip = fields.String(allow_none=True, metadata={"description": "Truncated (IPv4 /24, IPv6 /48)"})
    request_id = fields.String(allow_none=True)
    details = fields.Dict()
    entry_hash = fields.String()


class AuditLogOut(ma.Schema):
    """A page of the audit log, oldest first; `next_cursor` is null on the last page."""

    entries = fields.List(fields.Nested(AuditEntryOut))
    next_cursor = fields.String(allow_none=True)
