"""The register of data-subject requests: each with its due date, listed by what is due first.

GDPR 12(3) gives a controller one month to answer; OpsIQ's policy promises 30 days (REGULATIONS.md
section 9), so a request is due DUE_DAYS after it was received. An export (and later an erasure)
names the request it fulfils, which marks it fulfilled with the time. The selector is personal
data: the register keeps it encrypted under the site's data key and finds it by its keyed hash,
the same hash identities use (app/services/keyring.py).
"""
import datetime as dt
from typing import Any

from app.errors import Conflict, Gone, Invalid, NotFound
from app.extensions import db
from app.models import Site, SubjectRequest, utcnow
from app.services import audit
from app.services.keyring import keyring, normalise_email
from app.services.subjects.selectors import selector_of

DUE_DAYS = 30  # the policy's promise, inside GDPR's one month
KINDS = ("access", "erasure", "rectification", "objection")
STATUSES = ("open", "fulfilled")
FUTURE_SLACK = dt.timedelta(minutes=5)  # a caller's clock a little ahead is not a request from the future


def _normalised(selector: str, value: str) -> str:
    return normalise_email(value) if selector == "email" else value.strip()


def selector_hash(site_id: int, selector: str, value: str) -> str:
    """The keyed hash a selector is found by (for an email or external id, the one identities use)."""
    return keyring(site_id).lookup_hash(selector, _normalised(selector, value))


# the audit target kind of each selector (app/services/audit.py): people only as keyed hashes
TARGET_KINDS = {"visitor_id": "visitor", "email": "email", "external_id": "external_id", "person_id": "person"}


def subject_target(site_id: int, selectors: dict[str, str | None]) -> audit.Target:
    """Who a request or an export is about, as the audit log may name them: the selector's keyed hash."""
    selector, value = selector_of(selectors)
    return audit.Target(TARGET_KINDS[selector], selector_hash(site_id, selector, value))


def record_request(site_id: int, kind: str, selectors: dict[str, str | None],
                   received_at: dt.datetime | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Register a request received at `received_at` (default now), due DUE_DAYS later; committed."""
    now = now or utcnow()
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", errors={"kind": [f"one of {', '.join(KINDS)}"]})
    received_at = received_at or now
    if received_at.tzinfo is None:
        raise Invalid("received_at needs a time zone", errors={"received_at": ["give a time zone, e.g. Z"]})
    if received_at > now + FUTURE_SLACK:
        raise Invalid("received_at is in the future", errors={"received_at": ["not after now"]})
    selector, value = selector_of(selectors)
    req = SubjectRequest(site_id=site_id, kind=kind, selector=selector, received_at=received_at,
                         due_at=received_at + dt.timedelta(days=DUE_DAYS), status="open",
                         selector_hash=selector_hash(site_id, selector, value),
                         selector_enc=keyring(site_id).encrypt(f"subject_request.{selector}",
                                                               _normalised(selector, value)))
    db.session.add(req)
    db.session.flush()
    audit.record("subject_request.created", subject_target(site_id, selectors), site_id,
                 {"kind": kind, "request_id": req.request_id, "due_at": req.due_at.isoformat()})
    db.session.commit()
    return request_doc(req, now)


def request_doc(req: SubjectRequest, now: dt.datetime | None = None) -> dict[str, Any]:
    """A request as the register shows it to the controller: its selector decrypted, and whether it is overdue."""
    now = now or utcnow()
    # after the subject's erasure the register keeps the request, not who asked
    ring = keyring(req.site_id)
    value = ring.decrypt(f"subject_request.{req.selector}", req.selector_enc) if req.selector_enc else None
    return {
        "request_id": req.request_id, "kind": req.kind, "selector": {req.selector: value},
        "received_at": req.received_at.isoformat(), "due_at": req.due_at.isoformat(), "status": req.status,
        "fulfilled_at": req.fulfilled_at.isoformat() if req.fulfilled_at else None,
        "overdue": req.status == "open" and req.due_at < now,
    }


def list_requests(site_id: int | None = None, status: str | None = None,
                  now: dt.datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
    """[(site key, request)] of one site or all, oldest due first (what must be answered next leads)."""
    q = db.select(SubjectRequest, Site.site_key).join(Site, Site.id == SubjectRequest.site_id)
    if site_id is not None:
        q = q.where(SubjectRequest.site_id == site_id)
    if status is not None:
        q = q.where(SubjectRequest.status == status)
    rows = db.session.execute(q.order_by(SubjectRequest.due_at, SubjectRequest.id)).all()
    out = [(site_key, request_doc(req, now)) for req, site_key in rows]
    # the register shows who asked (decrypted): a read of personal data, audited
    target = audit.Target("site", site_key_of(site_id)) if site_id is not None else audit.Target("installation", "all")
    audit.record("subject_request.listed", target, site_id, {"status": status, "count": len(out)})
    db.session.commit()
    return out


def _find(site_id: int, request_id: str) -> SubjectRequest:
    req = db.session.execute(db.select(SubjectRequest).where(
        SubjectRequest.site_id == site_id, SubjectRequest.request_id == request_id)).scalar_one_or_none()
    if req is None:
        raise NotFound("No such request on this site.", errors={"request_id": ["no such request"]})
    return req


def get_request(site_id: int, request_id: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """One request of the site's register, its selector decrypted (None once its subject was erased):
    a read of personal data, audited as the register's listing is; committed. NotFound if the site
    has no such request."""
    doc = request_doc(_find(site_id, request_id), now)
    audit.record("subject_request.listed", audit.Target("subject_request", request_id), site_id,
                 {"request_id": request_id, "count": 1})
    db.session.commit()
    return doc


def request_subject(site_id: int, request_id: str) -> tuple[str, dict[str, str]]:
    """(the request's kind, {selector: value} of whom it is about), for the export or erasure that
    answers it (which audits itself); Gone once the subject was erased and the request names no one."""
    req = _find(site_id, request_id)
    if not req.selector_enc:
        raise Gone("The subject of that request was erased: the request names no one any more.")
    return req.kind, {req.selector: keyring(site_id).decrypt(f"subject_request.{req.selector}", req.selector_enc)}


def site_key_of(site_id: int) -> str:
    return db.session.execute(db.select(Site.site_key).where(Site.id == site_id)).scalar_one()


def fulfil_request(site_id: int, request_id: str, kind: str, selectors: dict[str, str | None],
                   now: dt.datetime | None = None, commit: bool = True) -> dict[str, Any]:
    """Mark a request fulfilled by an action of `kind` on the subject of `selectors`; committed
    (with `commit=False`, left in the caller's transaction).

    The action must answer that request: its kind, and the same subject by the same selector
    (Invalid otherwise); a request of another site is NotFound, one already fulfilled a Conflict.
    """
    req = _find(site_id, request_id)
    if req.status == "fulfilled":
        raise Conflict(f"That request was fulfilled at {req.fulfilled_at.isoformat()}.")
    selector, value = selector_of(selectors)
    if req.kind != kind:
        raise Invalid(f"That request is for {req.kind}, not {kind}.", errors={"request_id": [f"a {req.kind} request"]})
    if req.selector != selector or req.selector_hash != selector_hash(site_id, selector, value):
        raise Invalid("That request is about another subject (or names them by another selector).",
                      errors={"request_id": [f"names its subject by {req.selector}, and not this one"]})
    req.status, req.fulfilled_at = "fulfilled", now or utcnow()
    audit.record("subject_request.fulfilled", audit.Target("subject_request", req.request_id), site_id,
                 {"kind": req.kind, "by": kind})
    if not commit:  # the caller commits it with its own change (an erasure)
        return {}
    db.session.commit()
    return request_doc(req, now)
