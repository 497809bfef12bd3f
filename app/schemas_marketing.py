"""marshmallow schemas for identities, email consent and webhooks (issue 5).

Kept apart from app/schemas.py so the areas built in parallel do not edit one file; same rules:
inputs reject unknown fields, outputs are separate.
"""
import marshmallow as ma
from marshmallow import fields, validate

from app.schemas import VISITOR_ID, StrictBool, StrictSchema
from app.services.webhooks import EVENT_TYPES



class EMAIL(fields.Email):
    """An address, trimmed before marshmallow's check; the service lower-cases it before hashing."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value.strip() if isinstance(value, str) else value, attr, data, **kwargs)


class IdentityIn(StrictSchema):
    """Server-to-server: this visitor is this person (email and/or external_id)."""

    visitor_id = fields.String(required=True, validate=VISITOR_ID)
    email = EMAIL(load_default=None, allow_none=True, validate=validate.Length(max=320))
    external_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 200))

    @ma.validates_schema
    def _one_of(self, data, **kwargs):
        if not data.get("email") and not data.get("external_id"):
            raise ma.ValidationError("give an email or an external_id", "email")


class BrowserIdentityIn(StrictSchema):
    """From the widget's `identify(token)`: the token was minted by the site's own server."""

    site_key = fields.String(required=True, validate=validate.Length(1, 32))
    visitor_id = fields.String(required=True, validate=VISITOR_ID)
    token = fields.String(required=True, validate=validate.Length(1, 4096))


class IdentityOut(ma.Schema):
    person_id = fields.String()
    visitor_id = fields.String()
    created = fields.Boolean(metadata={"description": "A new person was made"})
    linked = fields.Boolean(metadata={"description": "The visitor was not linked to this person before"})


class PersonLookupIn(StrictSchema):
    """Find a person by exactly one of email, external_id, person_id."""

    email = EMAIL(load_default=None, allow_none=True)
    external_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 200))
    person_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 36))

    @ma.validates_schema
    def _exactly_one(self, data, **kwargs):
        if sum(1 for k in ("email", "external_id", "person_id") if data.get(k)) != 1:
            raise ma.ValidationError("give exactly one of email, external_id, person_id", "email")


class PersonPurposeOut(ma.Schema):
    granted = fields.Boolean()
    record_id = fields.String(allow_none=True)
    visitor_id = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    gpc = fields.Boolean()


class PersonConsentOut(ma.Schema):
    """A person's consent: the latest decision per purpose across their linked browsers."""

    person_id = fields.String()
    visitors = fields.List(fields.String())
    gpc = fields.Boolean(metadata={"description": "GPC was seen on a linked browser: sale and share are off"})
    purposes = fields.Dict(keys=fields.String(), values=fields.Nested(PersonPurposeOut))


class EmailConsentIn(StrictSchema):
    """A signup from the customer's form."""

    email = EMAIL(required=True, validate=validate.Length(max=320))
    source = fields.String(required=True, validate=validate.Length(1, 2048),
                           metadata={"description": "The form or URL where the address was given"})
    wording = fields.String(required=True, validate=validate.Length(1, 5000),
                            metadata={"description": "The consent text shown next to the box"})
    language = fields.String(required=True, validate=validate.Length(2, 16))
    double_opt_in = StrictBool(load_default=None, allow_none=True,
                               metadata={"description": "Default: the site's setting (on unless changed)"})
    ip = fields.IP(load_default=None, allow_none=True, metadata={"description": "The signer's address (truncated before storage)"})
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
    email = EMAIL(required=True, validate=validate.Length(max=320))
    source = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2048))


class EmailWithdrawOut(ma.Schema):
    record_id = fields.String()
    allowed = fields.Boolean()


class EmailCheckIn(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(1, 320))
    purpose = fields.String(load_default="email_marketing", validate=validate.OneOf(["email_marketing"]))


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
    emails = fields.List(fields.String(validate=validate.Length(1, 320)), required=True,
                         validate=validate.Length(1, 10_000))
    purpose = fields.String(load_default="email_marketing", validate=validate.OneOf(["email_marketing"]))


class EmailCheckBatchOut(ma.Schema):
    results = fields.List(fields.Nested(EmailCheckOut))


class WebhookIn(StrictSchema):
    url = fields.String(required=True, validate=validate.Length(1, 2048))
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True,
                         validate=validate.Length(min=1))


class WebhookOut(ma.Schema):
    id = fields.String(attribute="endpoint_id")
    url = fields.String()
    events = fields.List(fields.String())
    created_at = fields.DateTime()
    disabled_at = fields.DateTime(allow_none=True)
    disabled_reason = fields.String(allow_none=True)


class WebhookCreatedOut(WebhookOut):
    secret = fields.String(metadata={"description": "whsec_...: shown only now"})


class WebhookSecretOut(ma.Schema):
    secret = fields.String(metadata={"description": "The new whsec_ secret; the old one signs too for 24 hours"})
    previous_valid_until = fields.DateTime()


class WebhookListOut(ma.Schema):
    webhooks = fields.List(fields.Nested(WebhookOut))


class DeliveryOut(ma.Schema):
    event_id = fields.String()
    type = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class DeliveryListOut(ma.Schema):
    deliveries = fields.List(fields.Nested(DeliveryOut))
