"""The server API's questions: consent checks (one or a batch), a visitor's state, receipt verification.

`fast_check_input` is ConsentCheckIn for the two ordinary shapes of a check ({visitor_id,
purpose[, gpc]} and {email, purpose: email_marketing}), held by tests to the schema's result; it
returns None for anything else, which then goes through the schema.
"""
from typing import ClassVar

import marshmallow as ma
from marshmallow import fields, validate

from app.ledger.rules import is_visitor_id
from app.schemas.common import (COUNTRY, EMAIL_MAX, IP_ADDRESS, REGION, SLUG_MAX, VISITOR_ID, StrictBool, StrictSchema,
                                given)
from app.services.email_consent.records import PURPOSE as EMAIL_PURPOSE


class ConsentCheckIn(StrictSchema):
    """Is this purpose allowed for this visitor? The optional fields only matter with no record."""

    class Meta(StrictSchema.Meta):
        openapi: ClassVar[dict] = {"oneOf": [  # _visitor_or_email
            given("visitor_id", **{"not": {"required": ["email"]}}),
            given("email", **{"not": {"required": ["visitor_id"]}, "properties": {
                "email": {"type": "string"}, "purpose": {"enum": [EMAIL_PURPOSE]}}}),
        ]}

    visitor_id = fields.String(validate=VISITOR_ID, metadata={"description": "Required unless `email` is given"})
    purpose = fields.String(required=True, validate=validate.Length(1, SLUG_MAX))
    # {"email", "purpose": "email_marketing"} asks about an address instead of a visitor
    email = fields.String(validate=validate.Length(1, EMAIL_MAX), metadata={
        "description": "With purpose email_marketing: may this address be emailed? (no visitor_id)"})
    ip = fields.IP(load_default=None, allow_none=True, metadata={**IP_ADDRESS,
        "description": "The visitor's address as the caller saw it: sets the regime when nothing is recorded"})
    country = fields.String(load_default=None, allow_none=True, validate=COUNTRY,
                            metadata={"description": "ISO 3166-1 alpha-2, used when there is no record and no ip"})
    region = fields.String(load_default=None, allow_none=True, validate=REGION,
                           metadata={"description": "ISO 3166-2, e.g. US-CA"})
    gpc = StrictBool(load_default=False, metadata={
        "description": "The visitor's request carried Sec-GPC: 1; denies sale-and-share purposes"})

    @ma.validates_schema(skip_on_field_errors=False)
    def _visitor_or_email(self, data, **kwargs):
        if "email" in data:
            if "visitor_id" in data or data.get("purpose", EMAIL_PURPOSE) != EMAIL_PURPOSE:
                raise ma.ValidationError("an email is checked alone, for purpose email_marketing", "email")
        elif "visitor_id" not in data:
            raise ma.ValidationError("Missing data for required field.", "visitor_id")

    @ma.post_load
    def _ip_text(self, data, **kwargs):
        if data.get("ip") is not None:
            data["ip"] = str(data["ip"])
        return data


_VISITOR = is_visitor_id
_VISITOR_FIELDS = frozenset(("visitor_id", "purpose", "gpc"))
_EMAIL_FIELDS = frozenset(("email", "purpose"))


def fast_check_input(body):
    """ConsentCheckIn's result for an ordinary check body, else None (let the schema speak)."""
    if type(body) is not dict:
        return None
    purpose = body.get("purpose")
    if "email" in body:
        email = body["email"]
        if body.keys() == _EMAIL_FIELDS and purpose == EMAIL_PURPOSE and type(email) is str and 0 < len(email) <= EMAIL_MAX:
            return {"email": email, "purpose": purpose, "ip": None, "country": None, "region": None, "gpc": False}
        return None
    vid, gpc = body.get("visitor_id"), body.get("gpc", False)
    if not (body.keys() <= _VISITOR_FIELDS and type(vid) is str and _VISITOR(vid) and type(purpose) is str
            and 0 < len(purpose) <= SLUG_MAX and type(gpc) is bool):
        return None
    return {"visitor_id": vid, "purpose": purpose, "gpc": gpc, "ip": None, "country": None, "region": None}


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


# A check's answer: a visitor's (ConsentCheckOut), or an address's (EmailCheckOut, for email_marketing)
CHECK_ANSWER = {"oneOf": [{"$ref": "#/components/schemas/ConsentCheckOut"},
                          {"$ref": "#/components/schemas/EmailCheckOut"}]}


class ConsentCheckBatchOut(ma.Schema):
    results = fields.List(fields.Dict(metadata=CHECK_ANSWER))


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


class ReceiptVerifyIn(StrictSchema):
    receipt = fields.String(required=True, validate=validate.Length(1, 16 * 1024))


class CollectedWithOut(ma.Schema):
    """The widget build a record names and the proof pack of its policy version."""

    widget_build = fields.String(allow_none=True, metadata={"description": "SHA-256 of the widget that collected it"})
    widget_served = fields.Boolean(allow_none=True, metadata={"description": "Whether this server served that build"})
    proof_pack = fields.String(allow_none=True, metadata={
        "description": "Digest of the proof pack of the record's policy version (null until it is built)"})
    proof_pack_widget_build = fields.String(allow_none=True, metadata={
        "description": "The widget build the pack's screenshots were made with"})
    same_build = fields.Boolean(allow_none=True, metadata={
        "description": "Whether the record's build is the pack's (null when either is unknown)"})


class ReceiptVerifyOut(ma.Schema):
    """Whether a receipt is authentic, unexpired and still the visitor's current decision."""

    authentic = fields.Boolean()
    unexpired = fields.Boolean()
    current = fields.Boolean()
    reason = fields.String(metadata={"description": (
        "current, not_current, expired, policy_superseded, bad_signature, malformed")})
    record = fields.Dict(allow_none=True, metadata={"description": "The decoded receipt payload"})
    current_record_id = fields.String(allow_none=True)
    collected_with = fields.Nested(CollectedWithOut, allow_none=True, metadata={
        "description": "What the named record was collected with (null when the site has no such record)"})
