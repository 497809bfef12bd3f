"""The links people follow from their mail: confirm a signup (`/c/<token>`), unsubscribe (`/u/<token>`).

These answer small HTML pages, not JSON: a person reads them. `POST /u/<token>` is the RFC 8058
one-click unsubscribe that mail providers send with `List-Unsubscribe=One-Click`.
"""
from flask import Blueprint, current_app, request
from markupsafe import escape

from app import page_policies
from app.api.errors import status_for
from app.errors import DomainError, NotFound
from app.services.email_consent import links as email_links, records as email_records
from app.services.sites.snapshot import site_snapshot

bp = Blueprint("links", __name__)

STYLE = ("body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}\n"
         "button{font:inherit;padding:.5rem 1rem}")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>{style}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""
HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
           "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
           "Content-Security-Policy": page_policies.mail_link(STYLE)}


def page(title, body, status=200):
    return PAGE.format(title=escape(title), style=STYLE, body=body), status, HEADERS


@bp.errorhandler(DomainError)
def link_not_valid(e):
    """Any bad, expired, replaced or withdrawn link: a page that says why, with its status."""
    return page("Link not valid", f"<p>{escape(e.message)}</p>", status_for(e))


def _site(token, timed=False):
    snap = site_snapshot(email_links.site_key_of(token, timed) or "", current_app.config["SITE_CACHE_SECONDS"])
    if snap is None:
        raise NotFound("This link is not valid.")
    return snap


def _unsubscribe_claims(token):
    snap = _site(token)
    return snap, email_links.read_unsubscribe_token(snap.id, token)


@bp.get("/c/<token>")
def confirm_email_page(token):
    """Ask the person to confirm: a mail scanner that prefetches the link must not confirm for them."""
    snap = _site(token, timed=True)
    email_links.read_confirm_token(snap.id, token, current_app.config["EMAIL_CONFIRM_MAX_AGE"])
    return page("Confirm your subscription", "<p>Please confirm that you want to receive our email.</p>"
                '<form method="post"><button type="submit">Confirm subscription</button></form>')


@bp.post("/c/<token>")
def confirm_email(token):
    """Confirm a signup (double opt-in): the person's click records the confirmation, once."""
    snap = _site(token, timed=True)
    _, created = email_records.confirm(snap.id, token, current_app.config["EMAIL_CONFIRM_MAX_AGE"],
                                       request.remote_addr, request.user_agent.string)
    text = "Thank you: your subscription is confirmed." if created else "Your subscription was already confirmed."
    return page("Subscription confirmed", f"<p>{text}</p>")


@bp.get("/u/<token>")
def unsubscribe_page(token):
    """Ask before unsubscribing (a link scanner's GET must not unsubscribe anyone)."""
    snap, claims = _unsubscribe_claims(token)
    who = email_records.masked_address(snap.id, claims["h"]) or "this address"
    return page("Unsubscribe", f"<p>Stop marketing email to <strong>{escape(who)}</strong>?</p>"
                f'<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
                f"<button type=\"submit\">Unsubscribe</button></form>")


@bp.post("/u/<token>")
def unsubscribe(token):
    """Unsubscribe at once (the page's button, or a mail provider's RFC 8058 one-click POST)."""
    snap, claims = _unsubscribe_claims(token)
    method = "one_click" if request.form.get("List-Unsubscribe") == "One-Click" else "link"
    email_records.withdraw(snap.id, claims["h"], method, ip=request.remote_addr, user_agent=request.user_agent.string)
    return page("Unsubscribed", "<p>You will receive no more marketing email from us.</p>")
