"""The site's overview: its period and filters, and its figures (app/services/stats/figures.py)."""
import marshmallow as ma
from marshmallow import fields, validate

from app.ledger.rules import METHODS
from app.schemas.common import COUNTRY, REGION, StrictSchema
from app.services.stats.period import DEFAULT_DAYS, MAX_DAYS


class StatsArgs(StrictSchema):
    """The period and filters of the overview (query string)."""

    from_ = fields.Date(data_key="from", load_default=None, metadata={
        "description": f"First UTC day (YYYY-MM-DD; default: {DEFAULT_DAYS - 1} days before `to`). "
                       f"A period is at most {MAX_DAYS} days, and `from` may not be after `to`."})
    to = fields.Date(load_default=None, metadata={"description": "Last UTC day, included (default: today)"})
    country = fields.String(load_default=None, validate=COUNTRY,
                            metadata={"description": "Only decisions placed in this country (ISO 3166-1 alpha-2)"})
    region = fields.String(load_default=None, validate=REGION,
                           metadata={"description": "Only decisions placed in this region (ISO 3166-2, e.g. US-CA)"})
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "json (default) or csv (also `Accept: text/csv`)"})


MethodCountsOut = ma.Schema.from_dict({m: fields.Integer() for m in METHODS}, name="MethodCountsOut")
MethodSharesOut = ma.Schema.from_dict({m: fields.Float(allow_none=True) for m in METHODS}, name="MethodSharesOut")


class PurposeRateOut(ma.Schema):
    """A purpose in a group of decisions: how many decided it (their decision map names it), how many granted it."""

    purpose = fields.String()
    decided = fields.Integer()
    granted = fields.Integer()
    opt_in_rate = fields.Float(allow_none=True, metadata={"description": "granted / decided (null: none decided)"})


class FiguresOut(ma.Schema):
    """A group of decisions: the period's, or one country's, region's, policy version's or regime's."""

    key = fields.String(allow_none=True, metadata={
        "description": "The group's country, region, policy version or regime; null for the totals and for "
                       "decisions without one (no country known)"})
    decisions = fields.Integer()
    methods = fields.Nested(MethodCountsOut, metadata={"description": "Decisions by the method of the choice"})
    method_shares = fields.Nested(MethodSharesOut, metadata={"description": "Each method's share of the decisions"})
    gpc = fields.Integer(metadata={"description": "Decisions that carried a Global Privacy Control signal"})
    gpc_share = fields.Float(allow_none=True)
    purposes = fields.List(fields.Nested(PurposeRateOut), metadata={"description": "By slug"})


class DayOut(ma.Schema):
    """One UTC day of the period."""

    day = fields.Date()
    decisions = fields.Integer()
    methods = fields.Nested(MethodCountsOut)
    gpc = fields.Integer()


class StatsOut(ma.Schema):
    """A site's decisions over a period, from the counts `flask worker` keeps. They count every decision
    recorded, those whose records retention has purged since included; erasure does not change them."""

    from_ = fields.Date(attribute="start", data_key="from")
    to = fields.Date(attribute="end")
    country = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    as_of = fields.AwareDateTime(allow_none=True, metadata={
        "description": "Every decision recorded up to this time is counted (null: not rolled up yet); later ones "
                       "appear within about OPSIQ_WORKER_ROLLUP_SECONDS"})
    totals = fields.Nested(FiguresOut)
    days = fields.List(fields.Nested(DayOut), metadata={"description": "Every day of the period, in order"})
    countries = fields.List(fields.Nested(FiguresOut), metadata={"description": "Most decisions first"})
    regions = fields.List(fields.Nested(FiguresOut), metadata={
        "description": "ISO 3166-2 regions (US-CA), most decisions first; decisions without a region are in none"})
    policy_versions = fields.List(fields.Nested(FiguresOut))
    regimes = fields.List(fields.Nested(FiguresOut), metadata={"description": "opt_in, opt_out, notice"})
