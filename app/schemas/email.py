"""Email marketing consent: signups, withdrawals and checks."""
import marshmallow as ma
from marshmallow import fields, validate

from app.schemas.common import EMAIL, EMAIL_MAX, IP_ADDRESS, StrictBool, StrictSchema
from app.services.email_consent.records import PURPOSE as EMAIL_PURPOSE


class EmailConsentIn(StrictSchema):
    """A signup from the customer's form."""

    email = EMAIL(required=True, validate=validate.Length(max=EMAIL_MAX))
    source = fields.String(required=True, validate=validate.Length(1, 2048),
                           metadata={"description": "The form or URL where the address was given"})
    wording = fields.String(required=True, validate=validate.Length(1, 5000),
                            metadata={"description": "The consent text shown next to the box"})
    language = fields.String(required=True, validate=validate.Length(2, 16))
    double_opt_in = StrictBool(load_default=None, allow_none=True,
                               metadata={"description": "Default: the site's setting (on unless changed)"})
    ip = fields.IP(load_default=None, allow_none=True,
                   metadata={**IP_ADDRESS, "description": "The signer's address (truncated before storage)"})
    user_agent = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=512))

    @ma.post_load
    def _ip_text(self, data, **kwargs):
        data["ip"] = str(data["ip"]) if data.get("ip") is not None else None
        return data


class EmailConsentOut(ma.Schema):
    record_id = fields.String(metadata={"description": "The submission record"})
    status = fields.String(metadata={"description": "pending (awaiting the click) or confirmed"})
    basis = fields.String()
    double_opt_in = fields.Boolean()
    confirm_url = fields.String(allow_none=True, metadata={"description": "Put this in the confirmation mail"})
    unsubscribe_url = fields.String(metadata={"description": "One-click unsubscribe (RFC 8058) for this address"})
    list_unsubscribe_headers = fields.Dict(keys=fields.String(), values=fields.String())


class EmailWithdrawIn(StrictSchema):
    email = EMAIL(required=True, validate=validate.Length(max=EMAIL_MAX))
    source = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2048))


class EmailWithdrawOut(ma.Schema):
    record_id = fields.String()
    allowed = fields.Boolean()


class EmailCheckIn(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(1, EMAIL_MAX))
    purpose = fields.String(load_default=EMAIL_PURPOSE, validate=validate.OneOf([EMAIL_PURPOSE]))


class EmailCheckOut(ma.Schema):
    """May this address be emailed? Default deny; the records that justify the answer."""

    email = fields.String()
    purpose = fields.String()
    allowed = fields.Boolean()
    basis = fields.String(metadata={"description": "double_opt_in, single_opt_in or none"})
    submission_record_id = fields.String(allow_none=True)
    confirmation_record_id = fields.String(allow_none=True)
    withdrawal_record_id = fields.String(allow_none=True)
    given_at = fields.DateTime(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "Express consent does not expire: null"})


class EmailCheckBatchIn(StrictSchema):
    emails = fields.List(fields.String(validate=validate.Length(1, EMAIL_MAX)), required=True,
                         validate=validate.Length(1, 10_000))
    purpose = fields.String(load_default=EMAIL_PURPOSE, validate=validate.OneOf([EMAIL_PURPOSE]))


class EmailCheckBatchOut(ma.Schema):
    results = fields.List(fields.Nested(EmailCheckOut))
