"""A site's proof packs (/admin/sites/<site_key>/proof): each policy version's pack, newest first,
with its status, digest and seal and its ZIP; a pack's page with its manifest's facts and its
screenshots (banner and dialog, each language and regime); a rebuild for a pack built without
screenshots.

Every role that reads the site reads its packs and downloads them (site.read); owners and editors
rebuild (proof.rebuild). The ZIP is packs.export's, byte for byte what `flask proof export` writes
(and audited as it, `proof.exported`); a rebuild is packs.rebuild, `flask proof rebuild`'s
(`proof.rebuilt`), run in the request: the packs module has no queue for rebuilds. A rebuild is
refused while Chromium is missing here, since it would only write the same pack without
screenshots again. app/services/proof/catalog.py reads the packs for these pages.
"""
import re

from flask import Response, current_app, flash, redirect, url_for

from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.services.proof import catalog, packs
from app.services.users import access

PERMISSION = "site.read"
REBUILD = "proof.rebuild"
SITE_PAGES.append(("admin.proof_packs", "Proof packs", PERMISSION))
LAYERS = {"banner": "first layer (banner)", "dialog": "preferences dialog"}
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def status_of(site, vp: catalog.VersionPack) -> str:
    """What the pack of a version is, in a sentence: built (with or without screenshots, and why),
    waiting for the worker, or not built at all."""
    pack, req = vp.pack, vp.request
    if pack is not None:
        if pack.screenshots:
            return f"Built, with {len(catalog.screenshot_names(pack))} screenshots."
        return f"Built without screenshots: {pack.manifest.get('screenshots_reason') or 'no reason recorded'}."
    command = f"flask proof build {site.site_key} --version {vp.policy.version}"
    if vp.worker_gave_up:
        return (f"Not built: the worker stopped after {req.attempts} failed tries ({req.last_error}); "
                f"`{command}` shows the error.")
    if req is not None:
        tried = f" Its last try failed: {req.last_error}" if req.attempts else ""
        return f"Waiting for the worker, which builds it within moments of the publish.{tried}"
    return (f"No pack: the version was published before proof packs; `{command}` builds it while "
            "the site's texts are still the version's.")


def _pack_page(site, user, vp, status=200, refused=None):
    """A version's page: its pack's facts and screenshots, or why it has none yet."""
    settings = packs.Settings.from_app(current_app)
    blocker = catalog.rebuild_blocker(settings) if vp.pack is not None and not vp.pack.screenshots else None
    body, _ = site_page("admin/site/proof_pack.html", site, user, vp=vp, status_text=status_of(site, vp),
                        layers=LAYERS, rebuild_blocker=blocker, refused=refused)
    return body, status


@bp.get("/sites/<site_key>/proof")
def proof_packs(site_key):
    """The site's policy versions, newest first, each with its pack's status, digest, seal and ZIP."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    rows = catalog.site_packs(site)
    return site_page("admin/site/proof_packs.html", site, user, rows=rows,
                     statuses={vp.policy.id: status_of(site, vp) for vp in rows})


@bp.get("/sites/<site_key>/proof/<version>")
def proof_pack(site_key, version):
    """One version's pack: the manifest's facts, the seal, the screenshots; 404 for no such version."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    return _pack_page(site, user, catalog.version_pack(site, version))


@bp.get("/sites/<site_key>/proof/<version>/pack.zip")
def proof_pack_zip(site_key, version):
    """The version's pack as `flask proof export` writes it (packs.export, audited `proof.exported`)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    _, data = packs.export(site, version)
    filename = f"proof-{site.site_key}-v{UNSAFE_IN_FILENAME.sub('_', version)}.zip"
    return Response(data, 200, {"Content-Disposition": f'attachment; filename="{filename}"'},
                    mimetype="application/zip")


@bp.get("/sites/<site_key>/proof/<version>/packs/<int:pack_id>/<name>")
def proof_screenshot(site_key, version, pack_id, name):
    """One screenshot of a pack, the PNG bytes stored in it."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    return Response(catalog.screenshot(site, version, pack_id, name), 200, mimetype="image/png")


@bp.post("/sites/<site_key>/proof/<version>/rebuild")
def rebuild_proof_pack(site_key, version):
    """Rebuild a pack built without screenshots (packs.rebuild, as `flask proof rebuild`), here and
    now; refused, saying why, where the pack has its screenshots or Chromium is missing."""
    user = signed_in_user()
    site = access.site_for(user, site_key, REBUILD)
    vp = catalog.version_pack(site, version)
    settings = packs.Settings.from_app(current_app)
    if vp.pack is None:
        return _pack_page(site, user, vp, 409, "There is no pack to rebuild yet: the worker builds it first.")
    if vp.pack.screenshots:
        return _pack_page(site, user, vp, 409, "Not rebuilt: this pack has its screenshots already.")
    blocker = catalog.rebuild_blocker(settings)
    if blocker is not None:
        return _pack_page(site, user, vp, 409, f"Not rebuilt: a rebuild needs Chromium on this server, and {blocker}.")
    pack = packs.rebuild(site, version, settings)
    if pack.screenshots:
        flash(f"Rebuilt: pack {pack.id} of version {version} has {len(catalog.screenshot_names(pack))} screenshots; "
              f"it supersedes pack {vp.pack.id}.")
    else:
        flash(f"Rebuilt as pack {pack.id}, again without screenshots: {pack.manifest['screenshots_reason']}")
    return redirect(url_for("admin.proof_pack", site_key=site.site_key, version=version))
