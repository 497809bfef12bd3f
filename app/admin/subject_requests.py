"""The register of data-subject requests (/admin/sites/<site_key>/requests), and the actions that
answer them: a person's export, and their erasure through a confirmation step.

The page is the API's register (app/services/subjects/): the same services record, list, export
and erase, so every action is audited as the API's are, with the signed-in user as actor.

Whom a request names is kept encrypted (app/services/subjects/requests.py). The list shows the kind
of identifier and its value to the users who may manage requests, an email masked as `flask
subjects requests` masks it (enough to recognise, not to harvest); the erasure's confirmation
shows it in full, so that the owner confirms the right person. Each of those reads is audited
(`subject_request.listed`). Once its subject is erased, a request keeps its kind and dates and
names no one.

- Export (subjects.export) downloads the person's document, streamed; it fulfils an access
  request, and for a request of another kind exports without marking it.
- Erase (subjects.erase) is offered on open erasure requests: a page says what would be erased
  (the counts the erasure would answer) and asks for the word ERASE; only then does the POST erase,
  fulfilling the request, and the register shows what was erased per kind.
"""
import datetime as dt

import marshmallow as ma
from flask import flash, redirect, request, session, url_for

from app.admin.blueprint import bp
from app.admin.forms import SELECTOR_CHOICES, ConfirmErasureForm, SubjectRequestForm
from app.admin.pages import show_errors
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.api.subjects import streamed
from app.errors import DomainError, Invalid
from app.extensions import db
from app.models import utcnow
from app.schemas.subjects import SubjectRequestIn
from app.services.email_consent.records import mask
from app.services.sites.snapshot import build_snapshot
from app.services.subjects.erasure import erase_subject, erasure_scope
from app.services.subjects.export import subject_document
from app.services.subjects.requests import get_request, list_requests, record_request, request_subject
from app.services.users import access

SITE_PAGES.append(("admin.subject_requests", "Requests", "subject_requests.manage"))
KIND_LABELS = {"access": "Access", "erasure": "Erasure", "rectification": "Rectification", "objection": "Objection"}
ERASED_LABELS = {"consent_records": "Consent records (their personal fields; the decisions stay, anonymous)",
                 "identities": "Identities (the person's email and external id)",
                 "identity_links": "Links between the person and browsers",
                 "email_consent_records": "Email consent records", "webhook_events": "Webhook events naming them",
                 "subject_requests": "Requests of the register (kept, without who asked)"}
CONFIRM_WORD = "erase"
_RESULT = "subject_erasure"  # the session's key for the counts of the erasure just made, shown once


def subject_shown(selector: dict) -> tuple[str, str | None]:
    """(the identifier's label, its value as the list shows it: an email masked; None once erased)."""
    [(name, value)] = selector.items()
    return SELECTOR_CHOICES[name], (mask(value) if name == "email" and value else value)


def _register(site, user, form=None, status=200):
    show = "all" if request.args.get("status") == "all" else "open"
    rows = [req for _, req in list_requests(site.id, None if show == "all" else "open")]
    form = form or SubjectRequestForm(formdata=None, received_at=utcnow().date())
    result = session.pop(_RESULT, None)
    if result and result.get("site") != site.site_key:
        result = None
    return site_page("admin/site/requests.html", site, user, status=status, requests=rows, show=show, form=form,
                     overdue=sum(1 for r in rows if r["overdue"]), shown=subject_shown, kind_labels=KIND_LABELS,
                     result=result, erased_labels=ERASED_LABELS)


@bp.get("/sites/<site_key>/requests")
def subject_requests(site_key):
    """The register: open requests (or all), oldest due first, what is overdue said so; the form to
    record one; each open request's export and erasure."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "subject_requests.manage")
    return _register(site, user)


def _selectors(form) -> tuple[dict, dt.datetime]:
    """The form's request as the API takes it, checked by the API's schema (Invalid on the fields)."""
    received_at = dt.datetime.combine(form.received_at.data, dt.time(), dt.UTC)
    body = {"kind": form.kind.data, form.selector.data: form.value.data.strip(), "received_at": received_at.isoformat()}
    try:
        data = SubjectRequestIn().load(body)
    except ma.ValidationError as e:
        messages = [m for field, ms in e.messages.items() for m in (ms if isinstance(ms, list) else [ms])
                    if field != "kind"]
        raise Invalid("The request could not be recorded.", errors={"value": messages or ["not accepted"]}) from None
    return data, data["received_at"]


@bp.post("/sites/<site_key>/requests")
def create_subject_request(site_key):
    """Record a request received from a data subject; it is due 30 days after it was received."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "subject_requests.manage")
    form = SubjectRequestForm()
    if not form.validate_on_submit():
        return _register(site, user, form, 422)
    try:
        data, received_at = _selectors(form)
        created = record_request(site.id, data["kind"], data, received_at)
    except DomainError as e:
        show_errors(form, e)
        return _register(site, user, form, 422)
    flash(f"Recorded the {created['kind']} request {created['request_id']}, due {created['due_at'][:10]}.")
    return redirect(url_for("admin.subject_requests", site_key=site.site_key))


@bp.post("/sites/<site_key>/requests/<request_id>/export")
def export_request_subject(site_key, request_id):
    """Download the person's document, the API's export, streamed; an access request is fulfilled by it."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "subjects.export")
    kind, selectors = request_subject(site.id, request_id)
    pieces = subject_document(db.engine, build_snapshot(site), selectors, None,
                              request_id if kind == "access" else None)
    return streamed(pieces, {"Content-Disposition": f'attachment; filename="subject-export-{request_id}.json"'})


def _confirmation(site, user, request_id, form=None, status=200):
    req = get_request(site.id, request_id)
    [value] = req["selector"].values()
    answerable = req["kind"] == "erasure" and req["status"] == "open" and value is not None
    scope = erasure_scope(site.id, req["selector"]) if answerable else None
    return site_page("admin/site/erase.html", site, user, status=status, req=req, answerable=answerable,
                     scope=scope, form=form or ConfirmErasureForm(formdata=None), kind_labels=KIND_LABELS,
                     erased_labels=ERASED_LABELS, selector_label=SELECTOR_CHOICES[next(iter(req["selector"]))],
                     value=value)


@bp.get("/sites/<site_key>/requests/<request_id>/erase")
def confirm_erasure(site_key, request_id):
    """What erasing the request's subject would erase, and the confirmation it needs."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "subjects.erase")
    return _confirmation(site, user, request_id)


@bp.post("/sites/<site_key>/requests/<request_id>/erase")
def erase_request_subject(site_key, request_id):
    """Erase the request's subject, the API's erasure, once ERASE is typed; the request is fulfilled."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "subjects.erase")
    form = ConfirmErasureForm()
    if not form.validate_on_submit() or form.confirm.data.strip().lower() != CONFIRM_WORD:
        form.confirm.errors = ["Type the word ERASE to erase; nothing was erased."]
        return _confirmation(site, user, request_id, form, 400)
    _, selectors = request_subject(site.id, request_id)
    counts = erase_subject(build_snapshot(site), selectors, request_id)
    # pairs, in the erasure's order (the session's JSON would sort a mapping's keys)
    session[_RESULT] = {"site": site.site_key, "request_id": request_id, "counts": list(counts.items())}
    flash(f"Erased the subject of request {request_id}; the request is fulfilled and names no one.")
    return redirect(url_for("admin.subject_requests", site_key=site.site_key, status="all"))
