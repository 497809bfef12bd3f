"""Compliance scans: asking for one, and its status and report."""
import marshmallow as ma
from marshmallow import fields, validate

from app.schemas.common import HTTP_URL, Pattern, StrictSchema
from app.services.scanner.settings import REGION_PATTERN

REGION = Pattern(REGION_PATTERN, error="an ISO country (DE) or country-region (US-CA) code")


class ScanIn(StrictSchema):
    url = fields.String(required=True, validate=[validate.Length(1, 2048), HTTP_URL],
                        metadata={"description": "The page to scan; no link on it is followed"})
    regions = fields.List(fields.String(validate=REGION), validate=validate.Length(0, 10),
                          load_default=list,
                          metadata={"description": "Visitors' regions: DE, US-CA, ... (DE and US-CA when empty)"})


class ScanOut(ma.Schema):
    id = fields.String(attribute="scan_id")
    url = fields.String()
    regions = fields.List(fields.String())
    status = fields.String(metadata={"description": "queued, running, done or failed"})
    requested_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    findings = fields.Integer(allow_none=True, metadata={"description": "How many findings the report lists"})
    error = fields.String(allow_none=True, metadata={"description": "Why a failed scan failed"})
    report = fields.Dict(allow_none=True, metadata={
        "description": "When done: the JSON report (findings, states, proposed_declarations; without screenshots)"})
