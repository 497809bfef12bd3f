"""Webhook endpoints: subscribe, list, disable, rotate the secret, recent deliveries."""
from flask import g

from app.api.auth import SECURITY, api_key_required
from app.api.parsing import ApiBlueprint
from app.schemas.webhooks import (
    DeliveryListOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookListOut,
    WebhookOut,
    WebhookSecretOut,
)
from app.services.webhooks.endpoints import (
    create_endpoint,
    disable_endpoint,
    get_endpoint,
    list_endpoints,
    recent_deliveries,
    rotate_secret,
)

blp = ApiBlueprint("webhooks", __name__, url_prefix="/api/v1",
                   description="Signed (Standard Webhooks 1.0) notices of consent changes")


@blp.post("/webhooks")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(WebhookIn)
@blp.response(201, WebhookCreatedOut)
def create_webhook(data):
    """Subscribe a URL to event types; answers the `whsec_` signing secret, shown only now."""
    ep, secret = create_endpoint(g.site.id, data["url"], data["events"])
    return {"endpoint_id": ep.endpoint_id, "url": ep.url, "events": ep.events, "created_at": ep.created_at,
            "disabled_at": None, "disabled_reason": None, "secret": secret}


@blp.get("/webhooks")
@blp.doc(security=SECURITY)
@api_key_required
@blp.response(200, WebhookListOut)
def list_webhooks():
    """The site's webhook endpoints (without secrets)."""
    return {"webhooks": list_endpoints(g.site.id)}


@blp.post("/webhooks/<endpoint_id>/disable")
@blp.doc(security=SECURITY)
@blp.error_response(404, "The site has no webhook endpoint with this id")
@api_key_required
@blp.response(200, WebhookOut)
def disable_webhook(endpoint_id):
    """Stop delivering to this endpoint."""
    return disable_endpoint(get_endpoint(g.site.id, endpoint_id))


@blp.post("/webhooks/<endpoint_id>/rotate-secret")
@blp.doc(security=SECURITY)
@blp.error_response(404, "The site has no webhook endpoint with this id")
@api_key_required
@blp.response(200, WebhookSecretOut)
def rotate_webhook_secret(endpoint_id):
    """A new secret; for 24 hours every delivery carries signatures by the old and the new one."""
    ep, secret = rotate_secret(get_endpoint(g.site.id, endpoint_id))
    return {"secret": secret, "previous_valid_until": ep.previous_expires_at}


@blp.get("/webhooks/<endpoint_id>/deliveries")
@blp.doc(security=SECURITY)
@blp.error_response(404, "The site has no webhook endpoint with this id")
@api_key_required
@blp.response(200, DeliveryListOut)
def list_webhook_deliveries(endpoint_id):
    """The 50 most recent deliveries to this endpoint, newest first."""
    return {"deliveries": recent_deliveries(get_endpoint(g.site.id, endpoint_id))}
