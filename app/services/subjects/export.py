"""A data subject's export (GDPR 15 and 20): everything a site holds of one person, as one JSON document.

The subject is named by exactly one selector. A `visitor_id` is one browser: its records and its
identity links. An `email`, `external_id` or `person_id` is a known person: the records of every
visitor linked to them, their email consent, and their identity with the email and external id
decrypted. The document holds nothing of anyone else, and is written piece by piece: its consent
records come from a server-side cursor in batches, so a subject of any size holds one batch in memory.
"""
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.errors import NotFound
from app.extensions import db
from app.models import ConsentRecord, EmailConsentRecord, EmailSuppression, Identity, IdentityLink, utcnow
from app.services.export import STORED_COLUMNS, proof_packs, record_doc, stream_rows
from app.services.identities import find_person
from app.services.keyring import keyring
from app.services.receipts import receipt_for_columns
from app.services.subjects.controller import controller_doc
from app.services import audit
from app.services.subjects.requests import fulfil_request, subject_target
from app.services.subjects.selectors import selector_of

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot

SUBJECT_BATCH = 200  # consent records per round trip of the cursor: about what the export holds at once
EMAIL_COLUMNS = ("record_id", "event", "double_opt_in", "submission_record_id", "method", "source", "wording",
                 "language", "ip_truncated", "user_agent", "created_at")
TEXTS_NOT_KEPT = ("The site's texts and purposes have changed since; this is the hash of what was shown "
                  "(policy version and language are in each record).")


@dataclass(frozen=True)
class Subject:
    """Whom an export is about, resolved within one site: the visitors whose records are theirs,
    and what is read in the request (small) before the records are streamed (large)."""

    selector: str
    visitor_ids: tuple[str, ...]
    identities: list[dict[str, Any]]
    email_consents: list[dict[str, Any]]
    email_suppressed: bool


def find_subject(site_id: int, selectors: dict[str, str | None]) -> Subject:
    """The subject named by exactly one selector. A visitor or an email the site has never seen is a
    subject of whom nothing is held (an empty export is the answer); an unknown external id or
    person id is NotFound (it names no one, so it is more likely a mistake)."""
    name, value = selector_of(selectors)
    if name == "visitor_id":
        return _visitor_subject(site_id, value)
    person = find_person(site_id, **{name: value})
    if person is None and name != "email":
        raise NotFound("No such person on this site.")
    ring = keyring(site_id)
    email_hash = ring.email_hash(value) if name == "email" else person.email_hash
    visitors = _linked_visitors(person) if person is not None else []
    identities = [_identity_doc(site_id, person, visitors)] if person is not None else []
    return Subject(name, tuple(v["visitor_id"] for v in visitors), identities,
                   _email_consents(site_id, email_hash), _suppressed(site_id, email_hash))


def _visitor_subject(site_id: int, visitor_id: str) -> Subject:
    # a browser's own export: its links name the person, but only this visitor's records are in it
    links = db.session.execute(
        db.select(IdentityLink, Identity).join(Identity, Identity.id == IdentityLink.identity_id)
        .where(IdentityLink.site_id == site_id, IdentityLink.visitor_id == visitor_id).order_by(IdentityLink.id)
    ).all()
    identities = [_identity_doc(site_id, person, [_link_doc(link)]) for link, person in links]
    return Subject("visitor_id", (visitor_id,), identities, [], False)


def _linked_visitors(person: Identity) -> list[dict[str, Any]]:
    links = db.session.execute(db.select(IdentityLink).where(IdentityLink.identity_id == person.id)
                               .order_by(IdentityLink.id)).scalars()
    return [_link_doc(link) for link in links]


def _link_doc(link: IdentityLink) -> dict[str, Any]:
    return {"visitor_id": link.visitor_id, "method": link.method, "linked_at": _plain(link.created_at)}


def _identity_doc(site_id: int, person: Identity, links: list[dict[str, Any]]) -> dict[str, Any]:
    ring = keyring(site_id)
    return {
        "person_id": person.person_id,
        "email": ring.decrypt("email", person.email_enc) if person.email_enc else None,
        "external_id": ring.decrypt("external_id", person.external_id_enc) if person.external_id_enc else None,
        "created_at": _plain(person.created_at), "links": links,
    }


def _email_consents(site_id: int, email_hash: str | None) -> list[dict[str, Any]]:
    if not email_hash:
        return []
    rows = db.session.execute(db.select(EmailConsentRecord).where(
        EmailConsentRecord.site_id == site_id, EmailConsentRecord.email_hash == email_hash
    ).order_by(EmailConsentRecord.id)).scalars()
    return [{c: _plain(getattr(r, c)) for c in EMAIL_COLUMNS} for r in rows]


def _suppressed(site_id: int, email_hash: str | None) -> bool:
    return email_hash is not None and db.session.execute(db.select(EmailSuppression.id).where(
        EmailSuppression.site_id == site_id, EmailSuppression.email_hash == email_hash)).first() is not None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def texts_shown(snap: "SiteSnapshot", visitor_ids: tuple[str, ...]) -> dict[str, Any]:
    """{config hash: what it stands for} for every configuration the subject's records were made
    under: the texts and purposes where they are still the site's, else a note that they changed."""
    if not visitor_ids:
        return {}
    t = ConsentRecord.__table__
    hashes = db.session.execute(sa.select(t.c.config_hash).distinct().where(
        t.c.site_id == snap.id, t.c.visitor_id.in_(visitor_ids))).scalars().all()
    return {h: ({"texts": snap.texts, "purposes": list(snap.purposes)} if h == snap.config_hash
                else {"texts": None, "purposes": None, "note": TEXTS_NOT_KEPT}) for h in sorted(hashes)}


def iter_subject_records(engine: sa.Engine, site_id: int, visitor_ids: tuple[str, ...],
                         packs: dict[str, str]) -> Iterator[dict]:
    """Every record of these visitors on this site, oldest first, with its proof pack (`packs`: export
    proof_packs), through a server-side cursor. Takes the engine, not the session, so that it can
    run after the view has returned."""
    if not visitor_ids:
        return
    t = ConsentRecord.__table__
    query = (sa.select(*[t.c[c] for c in STORED_COLUMNS])
             .where(t.c.site_id == site_id, t.c.visitor_id.in_(visitor_ids)).order_by(t.c.id))
    yield from stream_rows(engine, query, packs, SUBJECT_BATCH)


def subject_document(engine: sa.Engine, snap: "SiteSnapshot", selectors: dict[str, str | None],
                     now: dt.datetime | None = None, request_id: str | None = None) -> Iterator[str]:
    """The subject's export as JSON text in pieces: `generated_at`, `controller`, `subject`,
    `identities`, `email_consents`, `texts_shown`, then `consent_records`, each record with its
    signed receipt. What is small is read now (NotFound and Invalid are raised here, before any
    piece), and the access request `request_id` of the register is marked fulfilled; the records
    are read as the pieces are taken."""
    subject = find_subject(snap.id, selectors)
    if request_id:
        fulfil_request(snap.id, request_id, "access", selectors, now)
    head = {
        "generated_at": (now or utcnow()).isoformat(),
        "controller": controller_doc(snap.name, snap.controller),
        "subject": {"selector": subject.selector, "visitor_ids": list(subject.visitor_ids)},
        "identities": subject.identities,
        "email_consents": subject.email_consents,
        "email_suppressed": subject.email_suppressed,
        "texts_shown": texts_shown(snap, subject.visitor_ids),
    }
    # a read of personal data: audited, and committed before the first piece is sent
    audit.record("subject.exported", subject_target(snap.id, selectors), snap.id,
                 {"visitors": len(subject.visitor_ids), "request_id": request_id})
    db.session.commit()
    rows = iter_subject_records(engine, snap.id, subject.visitor_ids, proof_packs(snap.id))
    return _pieces(head, rows, snap)


def _pieces(head: dict[str, Any], rows: Iterator[sa.RowMapping], snap: "SiteSnapshot") -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    yield dumps(head)[:-1] + ',"consent_records":['
    buf: list[str] = []
    first = True
    for row in rows:
        doc = record_doc(row)
        doc["receipt"] = receipt_for_columns(snap, row)
        buf.append(dumps(doc) if first else "," + dumps(doc))
        first = False
        if len(buf) >= 100:
            yield "".join(buf)
            buf.clear()
    yield "".join(buf) + "]}\n"

