"""Anchors: the latest seal head of every site, kept outside the database.

A database-only attacker cannot forge a seal (its MAC needs the master key), but can delete the
newest seals with their records and leave a shorter chain that verifies. An anchor written
elsewhere (`flask ledger anchor --out`, or the `ledger.sealed` webhook events) names the head the
ledger had then; `flask ledger verify --anchor FILE` fails when that seal is gone or changed.
The side chains' heads (app/ledger/chains.py: email records, audit entries) are anchored too.
"""
from app.extensions import db
from app.ledger import chains, macs
from app.ledger.seals import last_seal, seal_head
from app.models import LedgerSeal, Site, utcnow

ANCHOR_VERSION = 1


def anchor_document(sites, installation: bool = True) -> dict:
    """{version, generated_at, sites: {site key: seal head}, chains: {site key: {chain: head}},
    installation: {chain: head}} for the given sites (and the installation's own audit chain)
    where they have a seal."""
    heads, side = {}, {}
    for site in sites:
        head = last_seal(site.id)
        if head is not None:
            heads[site.site_key] = {"site_id": site.id, **seal_head(head)}
    for chain, scope in chains.scopes(sites, installation):
        head = chains.last_chain_seal(chain, scope)
        if head is not None:
            side.setdefault(scope, {})[chain.name] = chains.chain_head(head)
    keys = {site.id: site.site_key for site in sites}
    return {"version": ANCHOR_VERSION, "generated_at": utcnow().isoformat(), "sites": heads,
            "chains": {keys[scope]: h for scope, h in side.items() if scope != chains.INSTALLATION},
            "installation": side.get(chains.INSTALLATION, {})}


def anchored_chains(document: dict, site_key: str | None) -> dict[str, dict]:
    """{chain name: head} the anchor holds for a site's side chains (site_key None: the installation's)."""
    anchored_sites(document)
    held = document.get("installation") if site_key is None else (document.get("chains") or {}).get(site_key)
    return held if isinstance(held, dict) else {}


def check_head(site_id: int, head: dict, key: bytes) -> list[dict]:
    """The findings against one site's anchored head: the anchor's own MAC must be the ledger's
    (an edited file proves nothing), and the seal it names must be stored, unchanged."""
    seq, digest = int(head["seq"]), head["seal_hash"]
    if not macs.matches(macs.seal_mac(key, site_id, seq, digest), head.get("mac")):
        return [{"kind": "anchor_forged", "seq": seq,
                 "detail": f"the anchor's seal {seq} does not carry the ledger's MAC (not this ledger's anchor?)"}]
    stored = db.session.execute(db.select(LedgerSeal).where(LedgerSeal.site_id == site_id, LedgerSeal.seq == seq)
                                ).scalar_one_or_none()
    if stored is None:
        return [{"kind": "anchor_missing", "seq": seq,
                 "detail": f"seal {seq}, the head the anchor names, is gone (newest seals removed)"}]
    if stored.seal_hash != digest:
        return [{"kind": "anchor_mismatch", "seq": seq,
                 "detail": f"seal {seq} is not the one the anchor names (its hash changed)"}]
    return []


def anchored_sites(document: dict) -> dict[str, dict]:
    """{site key: head} of an anchor document; ValueError for a document that is not one."""
    if not isinstance(document, dict) or document.get("version") != ANCHOR_VERSION or not isinstance(
            document.get("sites"), dict):
        raise ValueError("not an anchor written by `flask ledger anchor`")
    return document["sites"]


def missing_sites(document: dict) -> list[str]:
    """The site keys an anchor names that the database no longer has."""
    keys = list(anchored_sites(document))
    have = set(db.session.execute(db.select(Site.site_key).where(Site.site_key.in_(keys))).scalars()) if keys else set()
    return [k for k in keys if k not in have]
