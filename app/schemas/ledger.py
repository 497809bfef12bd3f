"""The ledger export: its filters and paging, and a page of records."""
import marshmallow as ma
from marshmallow import fields, validate

from app.schemas.common import VISITOR_ID, StrictSchema


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
