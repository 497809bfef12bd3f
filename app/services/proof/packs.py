"""Proof packs: for each published policy version of a site, what every language and regime showed.

A publish (app/services/sites/policies.py publish_policy, so the CLI's and the dashboard's alike)
only records a request with the site document as published; it never waits for Chromium. The
`proof` duty of `flask worker`, or `flask proof build`, turns a request into a pack: for each of the
document's languages and each regime, the configuration resolved exactly as the widget's is
(app/services/sites/drafts.py preview_config, the policy being the pack's version), the widget's
exact bytes with it inlined (app/embed.py), and PNG screenshots of the first layer and of the
preferences dialog as headless Chromium renders them (render.py). The manifest lists every file's
SHA-256, the SHA-256 of static/widget.js as served, the texts' content hash, the policy URL and the
times; the pack's digest is the SHA-256 of the manifest's canonical JSON. Packs and their files
are stored in the database (proof_packs, proof_files) and sealed in the site's `proof` chain
(app/ledger/chains.py). Where Chromium is missing the pack is stored without screenshots and its
manifest says why (`screenshots: false`, `screenshots_reason`); `rebuild` writes a complete pack
that supersedes it.
"""
import datetime as dt
import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass

from app.embed import js_literal
from app.widget_file import widget_build, widget_parts
from app.errors import Conflict, DomainError, NotFound
from app.extensions import db
from app.hashing import canonical_json, sha256_hex
from app.models import ChainSeal, PolicyVersion, ProofFile, ProofPack, ProofRequest, Site, utcnow
from app.schemas.sites import SiteConfigOut
from app.services import audit, regimes
from app.services.proof import render
from app.services.sites.drafts import preview_config, published_document
from app.services.sites.policies import config_hash

FORMAT = "opsiq-proof-pack/1"
REGIMES = regimes.REGIMES
ENDPOINT = "https://preview.invalid/api/v1/consents"  # the preview shim's sink: the page sends nothing
NOT_SEALED = "not sealed yet"
MAX_ATTEMPTS = 3  # a request whose build fails (its document no longer resolves) is left to `flask proof build`
HERE = os.path.dirname(__file__)


@dataclass(frozen=True)
class Settings:
    """What a build needs from the app's configuration (read once, where the command or worker starts)."""

    chromium: str | None
    page_timeout: float
    widget_path: str
    shim_path: str

    @classmethod
    def from_app(cls, app):
        return cls(app.config.get("PROOF_CHROMIUM") or None, float(app.config["PROOF_PAGE_TIMEOUT"]),
                   os.path.join(app.static_folder, "widget.js"), os.path.join(app.static_folder, "admin", "preview.js"))


def request_pack(site: Site, pv: PolicyVersion) -> ProofRequest:
    """Record that `pv` needs a pack, with the document as it is now (in the caller's transaction)."""
    db.session.flush()  # pv.id
    req = ProofRequest(site_id=site.id, policy_version_id=pv.id, document=published_document(site),
                       requested_at=utcnow())
    db.session.add(req)
    return req


def policy_version(site: Site, version: str) -> PolicyVersion:
    """The site's policy version of this name, or NotFound."""
    pv = db.session.execute(db.select(PolicyVersion).where(PolicyVersion.site_id == site.id,
                                                           PolicyVersion.version == version)).scalar_one_or_none()
    if pv is None:
        raise NotFound(f"{site.site_key} has no policy version {version!r}")
    return pv


def latest_pack(site: Site, version: str) -> ProofPack | None:
    """The version's pack (the newest, when a rebuild superseded one)."""
    return version_pack(site.id, version)


def version_pack(site_id: int, version: str) -> ProofPack | None:
    """latest_pack by the site's id."""
    return db.session.execute(db.select(ProofPack).where(ProofPack.site_id == site_id, ProofPack.version == version)
                              .order_by(ProofPack.id.desc()).limit(1)).scalar_one_or_none()


def pack_digests(site_id: int) -> dict[str, str]:
    """{version: digest of its pack} for each of the site's versions with a pack (the newest, as latest_pack)."""
    rows = db.session.execute(db.select(ProofPack.version, ProofPack.digest).where(ProofPack.site_id == site_id)
                              .order_by(ProofPack.id)).all()
    return dict(rows)  # in id order: a newer pack of a version replaces an older


def collected_with(site_id: int, policy_version: str | None, widget_build: str | None) -> dict:
    """What a record was collected with, as its export, receipt check and log page say it: the widget
    build it names (and whether this installation served it), and the proof pack of its policy
    version (its digest, None until built, and whether the pack shows that same build)."""
    from app.services import widget_builds  # it reads the app's caches; this module is imported by the CLI early

    pack = version_pack(site_id, policy_version) if policy_version is not None else None
    pack_build = ((pack.manifest.get("widget") or {}).get("sha256")) if pack is not None else None
    return {
        "widget_build": widget_build,
        "widget_served": widget_builds.is_served(widget_build) if widget_build else None,
        "proof_pack": pack.digest if pack is not None else None,
        "proof_pack_widget_build": pack_build,
        "same_build": (widget_build == pack_build) if widget_build and pack_build else None,
    }


def pack_files(pack: ProofPack) -> dict[str, bytes]:
    return {f.name: f.content for f in db.session.execute(
        db.select(ProofFile).where(ProofFile.pack_id == pack.id).order_by(ProofFile.name)).scalars()}


def _json_bytes(value) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat()


def _make(site: Site, pv: PolicyVersion, document: dict, settings: Settings, supersedes: ProofPack | None,
          action: str) -> ProofPack:
    before, after = widget_parts(settings.widget_path)
    widget_sha = widget_build(settings.widget_path)
    with open(settings.shim_path, encoding="utf-8") as f:
        shim = f.read()
    files = {"document.json": _json_bytes(document)}
    views, entries = [], []
    languages = list(document.get("languages") or ["en"])
    for lang in languages:
        for regime in REGIMES:
            config = SiteConfigOut().dump(preview_config(site, document, lang, regime, ENDPOINT))
            config["policy"] = {"version": pv.version, "url": pv.url, "hash": pv.content_hash}
            script = before + js_literal(config) + after
            views.append(render.View(lang, regime, script))
            files[f"config-{lang}-{regime}.json"] = _json_bytes(config)
            entries.append({"language": lang, "regime": regime, "config": f"config-{lang}-{regime}.json",
                            "script_sha256": hashlib.sha256(script.encode()).hexdigest()})
    chromium, reason = None, None
    try:
        chromium, shots = render.render(settings.chromium, site.name, views, shim, settings.page_timeout)
    except render.Unavailable as e:
        reason = str(e)
    except Exception as e:  # noqa: BLE001 (a crashed or timed-out Chromium leaves a pack that says so)
        reason = f"Chromium failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    if reason is None:
        for entry in entries:
            banner, dialog = shots[(entry["language"], entry["regime"])]
            entry["banner"] = f"banner-{entry['language']}-{entry['regime']}.png"
            entry["dialog"] = f"dialog-{entry['language']}-{entry['regime']}.png"
            files[entry["banner"]], files[entry["dialog"]] = banner, dialog
    now = utcnow()
    manifest = {
        "format": FORMAT,
        "site_key": site.site_key, "site_name": site.name,
        "policy_version": pv.version, "policy_url": pv.url,
        "effective_at": _iso(pv.effective_at), "published_at": _iso(pv.published_at),
        "content_hash": pv.content_hash, "asked_again": bool(pv.reconsent),
        "widget": {"file": "static/widget.js", "sha256": widget_sha},
        "built_at": _iso(now),
        "languages": languages, "regimes": list(REGIMES),
        "screenshots": reason is None, "screenshots_reason": reason,
        "chromium": chromium, "viewport": render.VIEWPORT,
        "views": entries,
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())},
        "supersedes": {"pack": supersedes.id, "digest": supersedes.digest} if supersedes is not None else None,
    }
    digest = sha256_hex(canonical_json(manifest))
    pack = ProofPack(site_id=site.id, policy_version_id=pv.id, version=pv.version, manifest=manifest,
                     digest=digest, screenshots=reason is None, created_at=now)
    db.session.add(pack)
    db.session.flush()
    for name, content in files.items():
        db.session.add(ProofFile(pack_id=pack.id, name=name, content=content))
    req = db.session.execute(db.select(ProofRequest).where(ProofRequest.policy_version_id == pv.id)
                             ).scalar_one_or_none()
    if req is not None:
        db.session.delete(req)
    audit.record(action, audit.Target("site", site.site_key), site.id,
                 {"version": pv.version, "pack": pack.id, "screenshots": reason is None})
    db.session.commit()
    return pack


def build(site: Site, version: str, settings: Settings) -> ProofPack:
    """Build the pack of a version that has none: from its publish's request, or, for a version
    published before packs existed, from the site as it is if its texts are still the version's.
    Commits, with a `proof.built` entry."""
    pv = policy_version(site, version)
    existing = latest_pack(site, version)
    if existing is not None:
        raise Conflict(f"{site.site_key} version {version} already has pack {existing.id}; "
                       "`flask proof rebuild` makes a new one")
    req = db.session.execute(db.select(ProofRequest).where(ProofRequest.policy_version_id == pv.id)
                             ).scalar_one_or_none()
    if req is not None:
        document = req.document
    elif config_hash(site) == pv.content_hash:
        document = published_document(site)
    else:
        raise Conflict(f"the texts of {site.site_key} changed since version {version} was published "
                       "and no request holds them: its pack cannot be built")
    return _make(site, pv, document, settings, None, "proof.built")


def rebuild(site: Site, version: str, settings: Settings) -> ProofPack:
    """A new pack for a version from the document its pack holds (a pack without screenshots,
    completed once Chromium is there); it names the one it supersedes. Commits (`proof.rebuilt`)."""
    pv = policy_version(site, version)
    old = latest_pack(site, version)
    if old is None:
        raise Conflict(f"{site.site_key} version {version} has no pack yet; `flask proof build` makes it")
    document = json.loads(pack_files(old)["document.json"])
    return _make(site, pv, document, settings, old, "proof.rebuilt")


def build_pending(settings: Settings, limit: int) -> tuple[int, bool]:
    """Build up to `limit` requested packs, oldest first. A request whose build fails with a domain
    error keeps it (`last_error`) and is tried MAX_ATTEMPTS times; `flask proof build` shows the
    error. Returns (how many were built, whether more remain)."""
    reqs = db.session.execute(db.select(ProofRequest).where(ProofRequest.attempts < MAX_ATTEMPTS)
                              .order_by(ProofRequest.id).limit(limit + 1)).scalars().all()
    done = 0
    for req in reqs[:limit]:
        pv = db.session.get(PolicyVersion, req.policy_version_id)
        site = db.session.get(Site, req.site_id)
        if pv is None or site is None or latest_pack(site, pv.version) is not None:
            db.session.delete(req)  # the version is gone (replaced by an import) or already has its pack
            db.session.commit()
            continue
        req_id = req.id
        try:
            _make(site, pv, req.document, settings, None, "proof.built")
        except DomainError as e:
            db.session.rollback()
            req = db.session.get(ProofRequest, req_id)
            req.attempts, req.last_error = req.attempts + 1, e.message[:300]
            db.session.commit()
            continue
        done += 1
    return done, len(reqs) > limit


def pack_row(pack: ProofPack) -> dict:
    """The pack's columns as its `proof` chain row hash takes them (app/ledger/chains.py)."""
    return {"site_id": pack.site_id, "policy_version_id": pack.policy_version_id, "version": pack.version,
            "manifest": pack.manifest, "digest": pack.digest, "screenshots": pack.screenshots,
            "created_at": _iso(pack.created_at)}


def seal_of(pack: ProofPack) -> dict | str:
    """The `proof` chain seal that holds the pack, or NOT_SEALED."""
    seal = db.session.execute(db.select(ChainSeal).where(
        ChainSeal.chain == "proof", ChainSeal.scope == pack.site_id, ChainSeal.first_id <= pack.id,
        ChainSeal.last_id >= pack.id)).scalar_one_or_none()
    entry = next(([i, h] for i, h in seal.entries if int(i) == pack.id), None) if seal is not None else None
    if entry is None:
        return NOT_SEALED
    return {"chain": "proof", "scope": seal.scope, "seq": seal.seq, "seal_hash": seal.seal_hash,
            "prev_hash": seal.prev_hash, "mac": seal.mac, "sealed_at": _iso(seal.sealed_at), "entry": entry}


def export(site: Site, version: str) -> tuple[ProofPack, bytes]:
    """The version's pack as a ZIP: manifest.json, every file, README.txt and verify_pack.py.
    Commits a `proof.exported` entry."""
    policy_version(site, version)
    pack = latest_pack(site, version)
    if pack is None:
        raise NotFound(f"{site.site_key} version {version} has no proof pack yet")
    files = pack_files(pack)
    outer = {"pack_id": pack.id, "digest": pack.digest, "pack": pack.manifest, "row": pack_row(pack),
             "seal": seal_of(pack), "exported_at": _iso(utcnow())}
    with open(os.path.join(HERE, "verify_pack.py"), "rb") as f:
        script = f.read()
    with open(os.path.join(HERE, "README.txt"), "rb") as f:
        readme = f.read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", _json_bytes(outer))
        z.writestr("README.txt", readme)
        z.writestr("verify_pack.py", script)
        for name, content in files.items():
            z.writestr(name, content)
    audit.record("proof.exported", audit.Target("site", site.site_key), site.id,
                 {"version": version, "pack": pack.id})
    db.session.commit()
    return pack, buf.getvalue()
