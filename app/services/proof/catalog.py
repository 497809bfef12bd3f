"""What a site's proof packs are, for reading (the dashboard's proof pages, app/admin/proof_packs.py):
each policy version with its pack or why it has none yet, a pack's screenshots, and whether a
rebuild could complete a pack now. Building, rebuilding and exporting are packs.py's.
"""
from dataclasses import dataclass

from app.errors import NotFound
from app.extensions import db
from app.models import PolicyVersion, ProofFile, ProofPack, ProofRequest, Site
from app.services.proof import packs, render


@dataclass(frozen=True)
class VersionPack:
    """A policy version, its pack (the newest, None until one is built), the request the worker
    takes while there is none, and the pack's seal (packs.seal_of: a dict, or packs.NOT_SEALED)."""

    policy: PolicyVersion
    pack: ProofPack | None
    request: ProofRequest | None
    seal: dict | str | None

    @property
    def worker_gave_up(self) -> bool:
        """Whether the worker stopped trying the request (packs.MAX_ATTEMPTS failed builds)."""
        return self.request is not None and self.request.attempts >= packs.MAX_ATTEMPTS


def _requests(site: Site) -> dict[int, ProofRequest]:
    return {r.policy_version_id: r for r in db.session.execute(
        db.select(ProofRequest).where(ProofRequest.site_id == site.id)).scalars()}


def site_packs(site: Site) -> list[VersionPack]:
    """Every policy version of the site, newest published first, each with its newest pack."""
    versions = db.session.execute(db.select(PolicyVersion).where(PolicyVersion.site_id == site.id)
                                  .order_by(PolicyVersion.published_at.desc(), PolicyVersion.id.desc())).scalars()
    newest: dict[int, ProofPack] = {}
    for pack in db.session.execute(db.select(ProofPack).where(ProofPack.site_id == site.id)
                                   .order_by(ProofPack.id)).scalars():
        newest[pack.policy_version_id] = pack  # ascending ids: the last one kept is the newest
    requests = _requests(site)
    return [VersionPack(pv, newest.get(pv.id), requests.get(pv.id),
                        packs.seal_of(newest[pv.id]) if pv.id in newest else None) for pv in versions]


def version_pack(site: Site, version: str) -> VersionPack:
    """One policy version with its newest pack; NotFound if the site has no such version."""
    pv = packs.policy_version(site, version)
    pack = packs.latest_pack(site, version)
    return VersionPack(pv, pack, _requests(site).get(pv.id), packs.seal_of(pack) if pack is not None else None)


def screenshot(site: Site, version: str, pack_id: int, name: str) -> bytes:
    """A PNG of the version's pack `pack_id` (a screenshot its manifest lists); NotFound otherwise,
    so another site's packs, and a pack's other files, are not reached this way."""
    pack = db.session.get(ProofPack, pack_id)
    if pack is None or pack.site_id != site.id or pack.version != version or name not in screenshot_names(pack):
        raise NotFound(f"{site.site_key} version {version} has no screenshot {name!r} in pack {pack_id}")
    return db.session.execute(db.select(ProofFile.content).where(ProofFile.pack_id == pack.id,
                                                                 ProofFile.name == name)).scalar_one()


def screenshot_names(pack: ProofPack) -> set[str]:
    """The names of the pack's screenshots, as its manifest lists them (none without screenshots)."""
    return {view[layer] for view in pack.manifest.get("views", []) for layer in ("banner", "dialog") if view.get(layer)}


def rebuild_blocker(settings: packs.Settings) -> str | None:
    """Why a rebuild could not take screenshots here now (Chromium or Playwright missing), or None."""
    try:
        render.check_available(settings.chromium)
    except render.Unavailable as e:
        return str(e)
    return None

