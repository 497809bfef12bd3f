"""Webhook endpoints and their deliveries."""
import marshmallow as ma
from marshmallow import fields, validate

from app.schemas.common import HTTP_URL, StrictSchema
from app.services.webhooks.endpoints import EVENT_TYPES


class WebhookIn(StrictSchema):
    url = fields.String(required=True, validate=[validate.Length(1, 2048), HTTP_URL])
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
