"""Email consent's writes: submission, confirmation (double opt-in) and withdrawal.

Every step is an append-only `email_consent_records` row; the current answer per address is kept in
`email_consent_states`, and a withdrawal adds a suppression keyed by the keyed hash alone, designed
to outlive erasure of everything else about the person."""
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from app.errors import Gone, Invalid, NotFound
from app.extensions import db
from app.models import EmailConsentRecord, EmailConsentState, EmailSuppression, utcnow
from app.services import audit
from app.services.email_consent.links import confirm_token, read_confirm_token, unsubscribe_token
from app.services.geo import truncate_ip
from app.services.keyring import keyring, normalise_email
from app.services.webhooks.outbox import enqueue

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot

PURPOSE = "email_marketing"


def valid_address(address: str) -> bool:
    """Whether `address` is plausibly an email address: signups and withdrawals refuse anything else."""
    a = normalise_email(address)
    local, _, domain = a.rpartition("@")
    return bool(local) and "." in domain and " " not in a and len(a) <= 320


def mask(address: str) -> str:
    """`jane.doe@example.com` -> `j*******@e******.com`: enough to recognise, not to harvest."""
    local, _, domain = address.rpartition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{host[:1]}{'*' * max(len(host) - 1, 1)}{dot}{tld}"


def _state(site_id: int, email_hash: str, lock: bool = False) -> EmailConsentState | None:
    q = db.select(EmailConsentState).where(EmailConsentState.site_id == site_id,
                                           EmailConsentState.email_hash == email_hash)
    if lock:
        q = q.with_for_update()
    return db.session.execute(q).scalar_one_or_none()


def _record(site_id: int, email_hash: str, event: str, method: str, now: dt.datetime, ip: str | None = None,
            user_agent: str | None = None, **fields: Any) -> EmailConsentRecord:
    rec = EmailConsentRecord(record_id=str(uuid.uuid4()), site_id=site_id, email_hash=email_hash, event=event,
                             method=method, ip_truncated=truncate_ip(ip) if ip else None,
                             user_agent=(user_agent or "")[:512] or None, created_at=now, **fields)
    db.session.add(rec)
    return rec


def submit(snap: "SiteSnapshot", address: str, source: str | None = None, wording: str | None = None,
           language: str | None = None, double_opt_in: bool | None = None, ip: str | None = None,
           user_agent: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Record a signup. With double opt-in it counts only after the confirmation link is followed.

    Returns {"record_id", "status", "basis", "double_opt_in", "confirm_token" or None, "unsubscribe_token"}.
    """
    if not valid_address(address):
        raise Invalid("Not an email address.", errors={"email": ["not an email address"]})
    ring = keyring(snap.id)
    now = now or utcnow()
    doi = snap.email_double_opt_in if double_opt_in is None else bool(double_opt_in)
    address = normalise_email(address)
    h = ring.lookup_hash("email", address)
    if not doi and _suppression(snap.id, h) is not None:
        # an unsubscribed address is lifted only by its owner's confirmation, never by a form post alone
        doi = True
    rec = _record(snap.id, h, "submitted", "api", now, ip, user_agent, double_opt_in=doi, source=source,
                  wording=wording, language=language)
    state = _state(snap.id, h, lock=True)
    if state is None:
        state = EmailConsentState(site_id=snap.id, email_hash=h, status="pending", basis="none")
        db.session.add(state)
    state.email_enc = ring.encrypt("email", address)
    state.updated_at = now
    already = state.status == "confirmed" and not _suppressed_after(snap.id, h, state)
    if not doi:
        state.status, state.basis = "confirmed", "single_opt_in"
        state.submission_record_id, state.confirmation_record_id = rec.record_id, None
        state.given_at, state.confirmed_at, state.withdrawn_at = now, None, None
        state.withdrawal_record_id = None
        enqueue(snap.id, "email_consent.confirmed", _event_data(state, rec.record_id), {"email": address})
    elif not already:
        # a pending double opt-in: nothing counts until the click
        state.status, state.basis = "pending", "none"
        state.submission_record_id, state.confirmation_record_id = rec.record_id, None
        state.given_at, state.confirmed_at = now, None
    audit.record("email_consent.submitted", audit.Target("email", h), snap.id, {"double_opt_in": doi,
                                                                               "status": state.status})
    db.session.commit()
    return {"record_id": rec.record_id, "status": state.status, "basis": state.basis, "double_opt_in": doi,
            "confirm_token": confirm_token(snap.id, snap.site_key, rec.record_id) if doi and not already else None,
            "unsubscribe_token": unsubscribe_token(snap.id, snap.site_key, h)}


def _suppression(site_id: int, email_hash: str) -> EmailSuppression | None:
    return db.session.execute(db.select(EmailSuppression).where(
        EmailSuppression.site_id == site_id, EmailSuppression.email_hash == email_hash)).scalar_one_or_none()


def _suppressed_after(site_id: int, email_hash: str, state: EmailConsentState) -> bool:
    sup = _suppression(site_id, email_hash)
    return sup is not None and sup.suppressed_at >= (state.confirmed_at or state.given_at or sup.suppressed_at)


def _event_data(state: EmailConsentState, record_id: str) -> dict[str, Any]:
    return {"record_id": record_id, "purpose": PURPOSE, "basis": state.basis,
            "submission_record_id": state.submission_record_id, "email_hash": state.email_hash}


def confirm(site_id: int, token: str, max_age: int, ip: str | None = None, user_agent: str | None = None,
            now: dt.datetime | None = None) -> tuple[EmailConsentState, bool]:
    """Follow a confirmation link: records the confirmation once. Returns (state, created)."""
    now = now or utcnow()
    claims = read_confirm_token(site_id, token, max_age)
    sub = db.session.execute(db.select(EmailConsentRecord).where(
        EmailConsentRecord.record_id == claims["r"], EmailConsentRecord.site_id == site_id,
        EmailConsentRecord.event == "submitted")).scalar_one_or_none()
    if sub is None:
        raise NotFound("This confirmation link is not valid.")
    state = _state(site_id, sub.email_hash, lock=True)
    if state is None:
        raise Gone("This address has been erased.")
    if state.submission_record_id != sub.record_id:
        # a later signup or a withdrawal replaced this one: an old link may not revive consent
        if state.status == "confirmed":
            return state, False
        raise Gone("This confirmation link has been replaced or withdrawn.")
    if state.status == "confirmed":
        return state, False
    if state.withdrawn_at is not None and state.withdrawn_at >= sub.created_at:
        raise Gone("This address was unsubscribed after this link was sent.")
    rec = _record(site_id, sub.email_hash, "confirmed", "link", now, ip, user_agent, double_opt_in=True,
                  submission_record_id=sub.record_id, language=sub.language)
    state.status, state.basis = "confirmed", "double_opt_in"
    state.confirmation_record_id, state.confirmed_at, state.updated_at = rec.record_id, now, now
    state.withdrawn_at = state.withdrawal_record_id = None
    sealed = {"email": keyring(site_id).decrypt("email", state.email_enc)} if state.email_enc else None
    enqueue(site_id, "email_consent.confirmed", _event_data(state, rec.record_id), sealed)
    audit.record("email_consent.confirmed", audit.Target("email", sub.email_hash), site_id, {"method": "link"})
    db.session.commit()
    return state, True


def withdraw(site_id: int, email_hash: str, method: str, source: str | None = None, ip: str | None = None,
             user_agent: str | None = None, now: dt.datetime | None = None, address: str | None = None) -> str:
    """Withdraw at once and keep a suppression by keyed hash. Returns the withdrawal record id."""
    now = now or utcnow()
    rec = _record(site_id, email_hash, "withdrawn", method, now, ip, user_agent, source=source)
    state = _state(site_id, email_hash, lock=True)
    if state is None:
        state = EmailConsentState(site_id=site_id, email_hash=email_hash, basis="none")
        db.session.add(state)
    state.status, state.basis = "withdrawn", "none"
    state.withdrawal_record_id, state.withdrawn_at, state.updated_at = rec.record_id, now, now
    if address and not state.email_enc:
        state.email_enc = keyring(site_id).encrypt("email", normalise_email(address))
    sup = db.session.execute(db.select(EmailSuppression).where(
        EmailSuppression.site_id == site_id, EmailSuppression.email_hash == email_hash).with_for_update()
    ).scalar_one_or_none()
    if sup is None:
        db.session.add(EmailSuppression(site_id=site_id, email_hash=email_hash, withdrawal_record_id=rec.record_id,
                                        suppressed_at=now))
    else:
        sup.withdrawal_record_id, sup.suppressed_at = rec.record_id, now
    sealed = {"email": keyring(site_id).decrypt("email", state.email_enc)} if state.email_enc else None
    enqueue(site_id, "email_consent.withdrawn",
                     {"record_id": rec.record_id, "purpose": PURPOSE, "email_hash": email_hash, "method": method},
                     sealed)
    audit.record("email_consent.withdrawn", audit.Target("email", email_hash), site_id, {"method": method})
    db.session.commit()
    return rec.record_id


def withdraw_address(snap: "SiteSnapshot", address: str, source: str | None = None, ip: str | None = None,
                     user_agent: str | None = None) -> str:
    """Withdraw by address (the API's form of `withdraw`). Returns the withdrawal record id."""
    if not valid_address(address):
        raise Invalid("Not an email address.", errors={"email": ["not an email address"]})
    h = keyring(snap.id).email_hash(address)
    return withdraw(snap.id, h, "api", source, ip, user_agent, address=address)


def masked_address(site_id: int, email_hash: str) -> str | None:
    """The masked address behind a keyed hash (for the unsubscribe page), or None once erased."""
    state = _state(site_id, email_hash)
    if state is None or not state.email_enc:
        return None
    return mask(keyring(site_id).decrypt("email", state.email_enc))
