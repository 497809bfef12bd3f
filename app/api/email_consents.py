"""Email marketing consent: signups, withdrawals, and checks before sending."""
from flask import g, request, url_for

from app.api.auth import SECURITY, api_key_required
from app.api.parsing import ApiBlueprint
from app.schemas.email import (
    EmailCheckBatchIn,
    EmailCheckBatchOut,
    EmailCheckIn,
    EmailCheckOut,
    EmailConsentIn,
    EmailConsentOut,
    EmailWithdrawIn,
    EmailWithdrawOut,
)
from app.services.email_consent import checks as email_checks
from app.services.email_consent import records as email_records

blp = ApiBlueprint("email_consents", __name__, url_prefix="/api/v1",
                   description="Email marketing consent (never implied by a cookie-banner grant)")


@blp.before_request
def allow_large_batches():
    """10,000 addresses do not fit the app-wide 16 KiB body limit; the batch check gets 1 MiB."""
    if request.endpoint == "email_consents.check_email_consents":
        request.max_content_length = 1024 * 1024


@blp.post("/email-consents")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(EmailConsentIn)
@blp.response(201, EmailConsentOut)
def create_email_consent(data):
    """Record a signup; with double opt-in, mail the `confirm_url` — the consent counts after the click."""
    out = email_records.submit(g.site_snapshot, data["email"], data["source"], data["wording"], data["language"],
                               data["double_opt_in"], data["ip"], data["user_agent"])
    unsubscribe = url_for("links.unsubscribe_page", token=out["unsubscribe_token"], _external=True)
    return {
        **out,
        "confirm_url": (url_for("links.confirm_email", token=out["confirm_token"], _external=True)
                        if out["confirm_token"] else None),
        "unsubscribe_url": unsubscribe,
        "list_unsubscribe_headers": {"List-Unsubscribe": f"<{unsubscribe}>",
                                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    }


@blp.post("/email-consents/withdraw")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(EmailWithdrawIn)
@blp.response(200, EmailWithdrawOut)
def withdraw_email_consent(data):
    """Withdraw at once; the address stays suppressed (by keyed hash) even after erasure."""
    rid = email_records.withdraw_address(g.site_snapshot, data["email"], data["source"],
                                         request.remote_addr, request.user_agent.string)
    return {"record_id": rid, "allowed": False}


@blp.post("/email-consents/check")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(EmailCheckIn)
@blp.response(200, EmailCheckOut)
def check_email_consent(data):
    """May we email this address? Default deny, with the records behind the answer."""
    return email_checks.check_email(g.site_snapshot, data["email"])


@blp.post("/email-consents/check/batch")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(EmailCheckBatchIn)
@blp.response(200, EmailCheckBatchOut)
def check_email_consents(data):
    """Up to 10,000 addresses, answered in the order given."""
    return {"results": email_checks.check_emails(g.site_snapshot, data["emails"])}
