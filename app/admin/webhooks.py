"""A site's webhooks (/admin/sites/<site_key>/webhooks), for the roles with webhooks.edit (editors
and owners): its endpoints with their events and state, each one's recent deliveries and dead
letters; subscribing a URL, disabling an endpoint (after a confirmation step), rotating its secret
and replaying its dead letters. A new secret is shown on the answer page once, never again.

The work and the audit entries (webhook.created, webhook.disabled, secret.rotated,
webhook.replayed) are app/services/webhooks' own, the same as the API's and `flask webhooks`'.
"""
from flask import flash, redirect, request, url_for

from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.services.webhooks import delivery, endpoints
from app.services.users import access

SITE_PAGES.append(("admin.webhooks", "Webhooks", "webhooks.edit"))
PERMISSION = "webhooks.edit"
RECENT = 10  # deliveries and dead letters shown per endpoint


def _list(site, user, status=200, errors=None, url="", events=()):
    shown = [(ep, endpoints.recent_deliveries(ep, RECENT), endpoints.recent_deliveries(ep, RECENT, "dead"))
             for ep in endpoints.list_endpoints(site.id)]
    body, _ = site_page("admin/site/webhooks.html", site, user, endpoints=shown, event_types=endpoints.EVENT_TYPES,
                        errors=errors or {}, url=url, chosen=set(events))
    return body, status


def _secret_page(site, user, ep, secret, made):
    return site_page("admin/site/webhook_secret.html", site, user, endpoint=ep, secret=secret, made=made,
                     overlap_hours=int(endpoints.ROTATION_OVERLAP.total_seconds() // 3600))


@bp.get("/sites/<site_key>/webhooks")
def webhooks(site_key):
    """The site's endpoints, their deliveries and dead letters, and the form for a new one."""
    user = signed_in_user()
    return _list(access.site_for(user, site_key, PERMISSION), user)


@bp.post("/sites/<site_key>/webhooks")
def create_webhook(site_key):
    """Subscribe a URL to the chosen events; its signing secret is shown on this answer, once."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    url, events = request.form.get("url", "").strip(), request.form.getlist("events")
    try:
        ep, secret = endpoints.create_endpoint(site.id, url, events)
    except endpoints.WebhookError as e:
        return _list(site, user, 422, {**(e.errors or {}), "": [e.message]}, url, events)
    return _secret_page(site, user, ep, secret, made=True)


@bp.get("/sites/<site_key>/webhooks/<endpoint_id>/disable")
def disable_webhook_form(site_key, endpoint_id):
    """The confirmation step before an endpoint stops receiving events."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    ep = endpoints.get_endpoint(site.id, endpoint_id)
    return site_page("admin/site/confirm.html", site, user, heading="Disable a webhook",
                     message=f"Stop sending events to {ep.url}? What it is still owed becomes dead letters, "
                             "which can be replayed; the endpoint cannot be enabled again.",
                     action=url_for("admin.disable_webhook", site_key=site.site_key, endpoint_id=ep.endpoint_id),
                     button="Disable the webhook", back=url_for("admin.webhooks", site_key=site.site_key))


@bp.post("/sites/<site_key>/webhooks/<endpoint_id>/disable")
def disable_webhook(site_key, endpoint_id):
    """Disable the endpoint (confirmed on the page before)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    ep = endpoints.disable_endpoint(endpoints.get_endpoint(site.id, endpoint_id), "disabled in the dashboard")
    flash(f"The webhook to {ep.url} is disabled.")
    return redirect(url_for("admin.webhooks", site_key=site.site_key))


@bp.post("/sites/<site_key>/webhooks/<endpoint_id>/rotate")
def rotate_webhook_secret(site_key, endpoint_id):
    """A new signing secret, shown on this answer once; the old one keeps signing beside it a while."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    ep, secret = endpoints.rotate_secret(endpoints.get_endpoint(site.id, endpoint_id))
    return _secret_page(site, user, ep, secret, made=False)


@bp.post("/sites/<site_key>/webhooks/<endpoint_id>/replay")
def replay_webhook(site_key, endpoint_id):
    """Queue the endpoint's dead letters again, due now."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    ep = endpoints.get_endpoint(site.id, endpoint_id)
    n = delivery.replay_dead(site.id, ep.endpoint_id)
    flash(f"{n} dead letter(s) to {ep.url} queued again.")
    return redirect(url_for("admin.webhooks", site_key=site.site_key))
