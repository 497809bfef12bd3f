"""Erasing a person or a browser (GDPR 17): nothing left in the database links a row to them.

What goes, in one transaction (the ledger's part is `app/ledger/erasure.py`):
  consent records    their personal fields (visitor id, client record id, address prefix, user
                     agent, page) and salt, erased under a MAC'd erasure entry: the decision, time,
                     regime and policy stay as anonymous statistics, and every hash and seal verifies
  identities         the person (encrypted email and external id) and their links to browsers; for
                     a browser alone, its links
  email consent      the address's records (under a MAC'd deletion entry of the email chain,
                     app/ledger/chains.py) and state; a suppression (an address that withdrew)
                     stays, by its keyed hash, so it is never mailed again
  webhook outbox     events that name the subject's visitors or address (sent or not)
  request register   the subject's requests keep their dates and kind, not who asked
What stays names no one: the erasure entry (row ids, time, request id), the audit entry (counts),
and the `subject.erased` webhook event, whose identifiers (for downstream systems to erase too)
are sealed, that is encrypted under the site's key like every personal field of an event.
"""
import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.extensions import db
from app.ledger.chains import EMAIL, vouch_deletion
from app.ledger.erasure import erase_personal
from app.models import (
    ConsentRecord,
    EmailConsentRecord,
    EmailConsentState,
    Identity,
    IdentityLink,
    Site,
    SubjectRequest,
    WebhookDelivery,
    WebhookEvent,
    utcnow,
)
from app.services import audit
from app.services.identities import find_person
from app.services.keyring import keyring
from app.services.subjects.requests import fulfil_request, selector_hash, subject_target
from app.services.subjects.selectors import selector_of
from app.services.webhooks.outbox import enqueue

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot

CHUNK = 5000  # ids per IN (): SQLite's bound-variable limit
# outbox events whose data names a visitor, and those that name an address (by its keyed hash)
VISITOR_EVENTS = ("consent.recorded", "consent.withdrawn", "identity.linked")
EMAIL_EVENTS = ("email_consent.confirmed", "email_consent.withdrawn")
# what an erasure counts, in the order it answers them
ERASED_KINDS = ("consent_records", "identities", "identity_links", "email_consent_records", "webhook_events",
                "subject_requests")


def _resolve(site_id: int, name: str, value: str) -> tuple[list[Identity], set[str], set[str]]:
    """Who the selector names: (the people, their visitor ids, their addresses' keyed hashes)."""
    people: list[Identity] = []
    if name == "visitor_id":
        visitors = {value}
    else:
        person = find_person(site_id, **{name: value})
        if person is not None:
            people.append(person)
        visitors = {link.visitor_id for p in people for link in db.session.execute(
            db.select(IdentityLink).where(IdentityLink.identity_id == p.id)).scalars()}
    email_hashes = {p.email_hash for p in people if p.email_hash}
    if name == "email":
        email_hashes.add(keyring(site_id).email_hash(value))
    return people, visitors, email_hashes


def erasure_scope(site_id: int, selectors: dict[str, str | None]) -> dict[str, int]:
    """What erase_subject would erase now, per kind (the same keys and counts), erasing nothing: for a
    person to confirm before it cannot be undone. It reads counts only."""
    name, value = selector_of(selectors)
    people, visitors, email_hashes = _resolve(site_id, name, value)
    t, links, emails = ConsentRecord.__table__, IdentityLink.__table__, EmailConsentRecord.__table__
    counts = dict.fromkeys(ERASED_KINDS, 0)
    link_ids = set()
    for chunk in _chunks(visitors):
        counts["consent_records"] += db.session.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.site_id == site_id, t.c.visitor_id.in_(chunk), t.c.erased_at.is_(None))).scalar_one()
        link_ids.update(db.session.execute(sa.select(links.c.id).where(
            links.c.site_id == site_id, links.c.visitor_id.in_(chunk))).scalars())
    for p in people:
        link_ids.update(db.session.execute(sa.select(links.c.id).where(links.c.identity_id == p.id)).scalars())
    counts["identities"], counts["identity_links"] = len(people), len(link_ids)
    for h in email_hashes:
        counts["email_consent_records"] += db.session.execute(sa.select(sa.func.count()).select_from(emails).where(
            emails.c.site_id == site_id, emails.c.email_hash == h)).scalar_one()
    counts["webhook_events"] = len(_events_naming(site_id, visitors, email_hashes))
    counts["subject_requests"] = db.session.execute(sa.select(sa.func.count()).select_from(SubjectRequest).where(
        SubjectRequest.site_id == site_id,
        SubjectRequest.selector_hash == selector_hash(site_id, name, value))).scalar_one()
    return counts


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def erase_subject(snap: "SiteSnapshot", selectors: dict[str, str | None], request_id: str | None = None,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """Erase the subject named by exactly one selector (as the export names one) and commit; returns
    the counts erased per kind. `request_id`: the register's erasure request this fulfils."""
    now = now or utcnow()
    site_id = snap.id
    name, value = selector_of(selectors)
    ring = keyring(site_id)
    people, visitors, email_hashes = _resolve(site_id, name, value)
    if request_id:
        fulfil_request(site_id, request_id, "erasure", selectors, now, commit=False)

    # what downstream systems need to erase too, sealed before it is erased here
    sealed = {"visitor_ids": sorted(visitors), "person_ids": sorted(p.person_id for p in people)}
    for p in people:
        if p.email_enc:
            sealed["email"] = ring.decrypt("email", p.email_enc)
        if p.external_id_enc:
            sealed["external_id"] = ring.decrypt("external_id", p.external_id_enc)
    if name in ("email", "external_id"):
        sealed.setdefault(name, value)

    counts = dict.fromkeys(ERASED_KINDS, 0)
    t = ConsentRecord.__table__
    row_ids = [i for chunk in _chunks(visitors) for i in db.session.execute(
        sa.select(t.c.id).where(t.c.site_id == site_id, t.c.visitor_id.in_(chunk))).scalars()]
    reason = f"subject erasure {request_id or 'without request'}"  # names the request, never the person
    entry = erase_personal(site_id, row_ids, reason=reason)
    counts["consent_records"] = entry.record_count if entry is not None else 0

    links = IdentityLink.__table__
    for chunk in _chunks(visitors):
        counts["identity_links"] += db.session.execute(
            sa.delete(links).where(links.c.site_id == site_id, links.c.visitor_id.in_(chunk))).rowcount
    for p in people:
        counts["identity_links"] += db.session.execute(sa.delete(links).where(links.c.identity_id == p.id)).rowcount
        db.session.delete(p)
        counts["identities"] += 1

    emails = EmailConsentRecord.__table__
    email_rows = [i for h in email_hashes for i in db.session.execute(
        sa.select(emails.c.id).where(emails.c.site_id == site_id, emails.c.email_hash == h)).scalars()]
    # the email chain's deletion entry, so that verify tells this erasure from a deletion
    vouch_deletion(EMAIL, site_id, email_rows, reason=reason)
    for chunk in _chunks(email_rows):
        counts["email_consent_records"] += db.session.execute(sa.delete(emails).where(emails.c.id.in_(chunk))).rowcount
    for email_hash in email_hashes:
        db.session.execute(sa.delete(EmailConsentState.__table__).where(
            EmailConsentState.site_id == site_id, EmailConsentState.email_hash == email_hash))

    counts["webhook_events"] = _erase_events(site_id, visitors, email_hashes)
    counts["subject_requests"] = _forget_requesters(site_id, name, value)

    enqueue(site_id, "subject.erased", {"erased_at": now.isoformat(), "request_id": request_id,
                                        "counts": dict(counts)}, sealed, now)
    # the subject by the selector's keyed hash only: what `flask subjects replay-erasures` finds them by
    # again in a restored backup
    audit.record("subject.erased", subject_target(site_id, selectors), site_id,
                 {"request_id": request_id, "selector": name, **counts})
    db.session.commit()
    return counts


def _events_naming(site_id: int, visitors: set[str], email_hashes: set[str]) -> list[int]:
    """The ids of the outbox events that name the subject's visitors or address."""
    e = WebhookEvent.__table__
    found = []
    # matched by the database on the events' JSON (json_extract / ->>), a chunk of names at a time
    for kinds, field, names in ((VISITOR_EVENTS, "visitor_id", visitors), (EMAIL_EVENTS, "email_hash", email_hashes)):
        for chunk in _chunks(names):
            found += db.session.execute(sa.select(e.c.id).where(
                e.c.site_id == site_id, e.c.type.in_(kinds), e.c.data[field].as_string().in_(chunk))).scalars()
    return found


def _erase_events(site_id: int, visitors: set[str], email_hashes: set[str]) -> int:
    """Delete the outbox events (and, by cascade, their deliveries) that name the subject."""
    doomed = _events_naming(site_id, visitors, email_hashes)
    for chunk in _chunks(doomed):
        db.session.execute(sa.delete(WebhookDelivery.__table__).where(WebhookDelivery.event_id.in_(chunk)))
        db.session.execute(sa.delete(WebhookEvent.__table__).where(WebhookEvent.id.in_(chunk)))
    return len(doomed)


def _forget_requesters(site_id: int, selector: str, value: str) -> int:
    """The register keeps each of the subject's requests (kind, dates, status) but not who asked."""
    h = selector_hash(site_id, selector, value)
    requests = db.session.execute(db.select(SubjectRequest).where(
        SubjectRequest.site_id == site_id, SubjectRequest.selector_hash == h)).scalars().all()
    for req in requests:
        req.selector_hash = "erased:" + req.request_id
        req.selector_enc = ""
    return len(requests)


def replay_erasures(since: dt.datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """After a restore from a backup: erase again every subject erased since `since`, as the audit log
    names them (by the keyed hash of their selector). Returns [(site key, selector, counts)] of
    those found again; a subject the restored database no longer holds is skipped."""
    from app.models import AuditEntry
    from app.services.sites.snapshot import build_snapshot

    entries = db.session.execute(db.select(AuditEntry).where(
        AuditEntry.action == "subject.erased", AuditEntry.created_at >= since).order_by(AuditEntry.id)).scalars().all()
    done = []
    for entry in entries:
        site = db.session.get(Site, entry.site_id)
        selector = (entry.details or {}).get("selector")
        value = _find_by_hash(entry.site_id, selector, entry.target_id) if site and selector else None
        if value is None:
            continue
        counts = erase_subject(build_snapshot(site), {selector: value}, None)
        done.append((site.site_key, selector, counts))
    return done


def _find_by_hash(site_id: int, selector: str, wanted: str) -> str | None:
    """The selector's value whose keyed hash is `wanted`, among what the site holds, or None."""
    ring = keyring(site_id)
    if selector in ("email", "external_id"):
        column = Identity.email_hash if selector == "email" else Identity.external_id_hash
        person = db.session.execute(db.select(Identity).where(Identity.site_id == site_id, column == wanted)).scalar()
        if person is not None:
            enc = person.email_enc if selector == "email" else person.external_id_enc
            return ring.decrypt(selector, enc) if enc else None
        if selector == "email":  # an address with email consent but no identity
            state = db.session.execute(db.select(EmailConsentState).where(
                EmailConsentState.site_id == site_id, EmailConsentState.email_hash == wanted)).scalar()
            return ring.decrypt("email", state.email_enc) if state is not None and state.email_enc else None
        return None
    if selector == "person_id":
        ids = db.session.execute(db.select(Identity.person_id).where(Identity.site_id == site_id)).scalars()
    else:  # visitor_id: every visitor the site holds, hashed (a replay is rare, and bounded by the site)
        ids = db.session.execute(sa.select(ConsentRecord.visitor_id).where(ConsentRecord.site_id == site_id)
                                 .distinct()).scalars()
    return next((v for v in ids if selector_hash(site_id, selector, v) == wanted), None)
