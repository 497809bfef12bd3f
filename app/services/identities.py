"""Known people: linking visitors to an email or external id, and a person's current consent.

A browser can link an identity only with a token minted by the site's own server, signed with the
site's identity secret (`flask identities secret SITE_KEY`):

    from itsdangerous import URLSafeTimedSerializer
    token = URLSafeTimedSerializer(IDENTITY_SECRET, salt="opsiq.identity.v1").dumps({"email": user.email})

The token may also carry "external_id" and "visitor_id" (then only that visitor may use it); it
expires after IDENTITY_TOKEN_MAX_AGE seconds (10 minutes by default).
"""
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import Conflict, Invalid, NotFound, Unauthorized
from app.extensions import db
from app.models import ConsentRecord, Identity, IdentityLink, utcnow
from app.services import audit
from app.services.keyring import keyring, normalise_email
from app.services.purposes import is_sale_or_share
from app.services.webhooks.outbox import enqueue

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot

IDENTITY_SALT = "opsiq.identity.v1"


def identity_serializer(site_id: int) -> URLSafeTimedSerializer:
    """The serializer that signs and reads a site's identity tokens (keyed with its identity secret)."""
    return URLSafeTimedSerializer(keyring(site_id).identity_secret, salt=IDENTITY_SALT)


def mint_token(site_id: int, email: str | None = None, external_id: str | None = None,
               visitor_id: str | None = None) -> str:
    """What the customer's server does: a short-lived signed claim of who the visitor is."""
    claims = {k: v for k, v in (("email", email), ("external_id", external_id), ("visitor_id", visitor_id)) if v}
    return identity_serializer(site_id).dumps(claims)


def read_token(site_id: int, token: str, max_age: int) -> dict[str, Any]:
    """The claims of a valid token; Unauthorized if unsigned, forged or expired."""
    try:
        claims = identity_serializer(site_id).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Unauthorized("The identity token has expired; mint a new one on your server.") from None
    except BadSignature:
        raise Unauthorized("The identity token is not signed with this site's identity secret.") from None
    if not isinstance(claims, dict) or not (claims.get("email") or claims.get("external_id")) or not all(
            isinstance(claims.get(k), str | None) for k in ("email", "external_id", "visitor_id")):
        raise Unauthorized("The identity token names no email or external_id.")
    return claims


def link_from_token(site_id: int, visitor_id: str, token: str, max_age: int) -> dict[str, Any]:
    """`opsiqConsent.identify(token)`: link a browser's visitor with a token the site's server signed.
    A token minted for one visitor (its `visitor_id` claim) links no other."""
    claims = read_token(site_id, token, max_age)
    if claims.get("visitor_id") and claims["visitor_id"] != visitor_id:
        raise Unauthorized("The identity token was minted for another visitor.")
    return link_identity(site_id, visitor_id, claims.get("email"), claims.get("external_id"), "browser")


def link_identity(site_id: int, visitor_id: str, email: str | None = None, external_id: str | None = None,
                  method: str = "server") -> dict[str, Any]:
    """Link a visitor to the person with this email and/or external id (made if new).

    Returns {"person_id", "visitor_id", "created", "linked"}; emits identity.linked in the same
    transaction when the link is new.
    """
    ring = keyring(site_id)
    email = normalise_email(email) or None
    external_id = (external_id or "").strip() or None
    if not email and not external_id:
        raise Invalid("Give an email or an external_id.", errors={"email": ["email or external_id required"]})
    email_hash = ring.lookup_hash("email", email) if email else None
    ext_hash = ring.lookup_hash("external_id", external_id) if external_id else None
    by_email = by_ext = None
    if email_hash:
        by_email = db.session.execute(db.select(Identity).where(
            Identity.site_id == site_id, Identity.email_hash == email_hash)).scalar_one_or_none()
    if ext_hash:
        by_ext = db.session.execute(db.select(Identity).where(
            Identity.site_id == site_id, Identity.external_id_hash == ext_hash)).scalar_one_or_none()
    if by_email and by_ext and by_email.id != by_ext.id:
        raise Conflict("That email and that external_id belong to two different people.")
    person = by_email or by_ext
    created = person is None
    if created:
        person = Identity(site_id=site_id)
        db.session.add(person)
    if email_hash and not person.email_hash:
        person.email_hash, person.email_enc = email_hash, ring.encrypt("email", email)
    if ext_hash and not person.external_id_hash:
        person.external_id_hash, person.external_id_enc = ext_hash, ring.encrypt("external_id", external_id)
    db.session.flush()
    link = db.session.execute(db.select(IdentityLink).where(
        IdentityLink.identity_id == person.id, IdentityLink.visitor_id == visitor_id)).scalar_one_or_none()
    linked = link is None
    if linked:
        db.session.add(IdentityLink(site_id=site_id, identity_id=person.id, visitor_id=visitor_id, method=method))
        sealed = {k: v for k, v in (("email", email), ("external_id", external_id)) if v}
        enqueue(site_id, "identity.linked",
                         {"person_id": person.person_id, "visitor_id": visitor_id, "method": method}, sealed)
    audit.record("identity.linked", audit.Target("email" if email_hash else "external_id", email_hash or ext_hash),
                 site_id, {"method": method, "visitor": ring.lookup_hash("visitor_id", visitor_id),
                           "new_person": created, "new_link": linked})
    db.session.commit()
    return {"person_id": person.person_id, "visitor_id": visitor_id, "created": created, "linked": linked}


def find_person(site_id: int, email: str | None = None, external_id: str | None = None,
                person_id: str | None = None) -> Identity | None:
    """The Identity row for an email, external id or person id, or None."""
    ring = keyring(site_id)
    q = db.select(Identity).where(Identity.site_id == site_id)
    if email:
        q = q.where(Identity.email_hash == ring.email_hash(email))
    elif external_id:
        q = q.where(Identity.external_id_hash == ring.lookup_hash("external_id", external_id.strip()))
    elif person_id:
        q = q.where(Identity.person_id == person_id)
    else:
        return None
    return db.session.execute(q).scalar_one_or_none()


def require_person(site_id: int, email: str | None = None, external_id: str | None = None,
                   person_id: str | None = None) -> Identity:
    """find_person, or NotFound."""
    person = find_person(site_id, email, external_id, person_id)
    if person is None:
        raise NotFound("No such person on this site.")
    return person


def linked_visitors(person: Identity) -> list[str]:
    """The visitor ids linked to a person, in the order they were linked."""
    return list(db.session.execute(db.select(IdentityLink.visitor_id).where(
        IdentityLink.identity_id == person.id).order_by(IdentityLink.id)).scalars())


def person_consent(snap: "SiteSnapshot", person: Identity) -> dict[str, Any]:
    """A person's current consent: per purpose, the latest decision among their linked visitors.

    GPC seen on any linked browser opts the person out of sale and share, even over a later
    opt-in without it (REGULATIONS.md section 4: for a known person that is not an opt-in).
    """
    visitors = linked_visitors(person)
    rows = db.session.execute(
        db.select(ConsentRecord.record_id, ConsentRecord.visitor_id, ConsentRecord.decisions,
                  ConsentRecord.gpc, ConsentRecord.created_at, ConsentRecord.expires_at)
        .where(ConsentRecord.site_id == snap.id, ConsentRecord.visitor_id.in_(visitors))
        .order_by(ConsentRecord.id)
    ).all() if visitors else []
    now = utcnow()
    latest = {}  # visitor -> its latest record; only each browser's latest decision counts
    gpc = False
    for r in rows:
        latest[r.visitor_id] = r
        gpc = gpc or r.gpc
    purposes = {}
    for r in sorted(latest.values(), key=lambda r: r.created_at):
        if r.expires_at <= now:
            continue
        for slug, value in r.decisions.items():
            purposes[slug] = {"granted": bool(value), "record_id": r.record_id, "visitor_id": r.visitor_id,
                              "decided_at": r.created_at}
    if gpc:
        for p in snap.purposes:
            if is_sale_or_share(p) and p["slug"] in purposes:
                purposes[p["slug"]] = dict(purposes[p["slug"]], granted=False, gpc=True)
            elif is_sale_or_share(p):
                purposes[p["slug"]] = {"granted": False, "record_id": None, "visitor_id": None,
                                       "decided_at": None, "gpc": True}
    return {"person_id": person.person_id, "visitors": list(visitors), "gpc": gpc, "purposes": purposes}
