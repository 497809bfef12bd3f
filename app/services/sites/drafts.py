"""Drafts: a site's edits saved apart from what visitors see, previewed, then published.

A draft is a whole site document (app/services/sites/documents.py export_site's shape), begun from
the published one. Saving checks it as an import would, so a draft can always be published.
Publishing imports it under a new policy version, so every publish has its own version, content
hash and proof pack. A version that asks every visitor again makes the stored choices (which name
an older version) stale: the widget asks again and the checks treat earlier decisions as
superseded. A correction (not asking again) leaves them standing: the widget accepts a choice made
under any version since the last that asked again (the configuration's `policy.accepts`), and the
checks likewise (app/services/checks.py is_superseded). The preview resolves a draft for a language and a regime exactly as
the widget's configuration is resolved for a visitor (app/services/sites/resolution.py).
"""
import copy
import dataclasses
from typing import Any

from app.extensions import db
from app.hashing import canonical_json, sha256_hex
from app.models import Site, SiteDraft, utcnow
from app.services import audit, regimes
from app.services.geo import Location
from app.services.sites.documents import export_site, import_site, validate_site_doc
from app.services.sites.errors import SiteError
from app.services.sites.resolution import resolve_config, texts_for
from app.services.sites.snapshot import build_snapshot
from app.services.theme import normalise_theme

# What the editor may change; the rest of the document (keys, policies, retention) has its own screens.
EDITABLE = ("name", "origins", "default_language", "languages", "texts", "purposes", "regime_overrides",
            "uses_google", "theme")
# A place in each regime, for previews: the regime is forced, the place only fills the fields.
PREVIEW_PLACES = {regimes.OPT_IN: Location("DE", "DE-BE", None), regimes.OPT_OUT: Location("US", "US-CA", None),
                  regimes.NOTICE: Location("US", "US-TX", None)}


def _hash(doc: dict) -> str:
    return sha256_hex(canonical_json(doc))


def published_document(site: Site) -> dict:
    """The editable part of the site's document as visitors see it now (a proof pack's document too)."""
    return {k: v for k, v in export_site(site).items() if k in EDITABLE}


def draft_of(site: Site) -> SiteDraft | None:
    return db.session.execute(db.select(SiteDraft).where(SiteDraft.site_id == site.id)).scalar_one_or_none()


def draft_document(site: Site) -> dict:
    """The editable part of the site's document as the draft has it (the published one if no draft)."""
    draft = draft_of(site)
    return copy.deepcopy(draft.document) if draft is not None else published_document(site)


def save_draft(site: Site, changes: dict[str, Any]) -> SiteDraft:
    """Merge `changes` (editable keys only) into the site's draft and store it; SiteError lists every
    problem that would stop its publication. Commits, with a `draft.saved` audit entry."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise SiteError(f"not editable here: {', '.join(unknown)}")
    published = published_document(site)
    draft = draft_of(site)
    doc = {**(draft.document if draft is not None else published), **copy.deepcopy(changes)}
    validate_site_doc({**export_site(site), **doc})
    if draft is None:
        draft = SiteDraft(site_id=site.id, base_hash=_hash(published))
        db.session.add(draft)
    draft.document, draft.updated_at, draft.updated_by = doc, utcnow(), audit.current().actor
    audit.record("draft.saved", audit.Target("site", site.site_key), site.id, {"fields": sorted(changes)})
    db.session.commit()
    return draft


def discard_draft(site: Site) -> bool:
    """Drop the site's draft (True if there was one). Commits, with a `draft.discarded` entry."""
    draft = draft_of(site)
    if draft is None:
        return False
    db.session.delete(draft)
    audit.record("draft.discarded", audit.Target("site", site.site_key), site.id)
    db.session.commit()
    return True


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):  # an empty mapping is no field at all
        for k, v in value.items():
            _flatten(v, f"{path}.{k}" if path else str(k), out)
    elif path.endswith("purposes") and isinstance(value, list) and value and all(
            isinstance(p, dict) and "slug" in p for p in value):
        out[f"{path} (order)"] = [p["slug"] for p in value]
        for p in value:
            _flatten({k: v for k, v in p.items() if k != "slug"}, f"{path}.{p['slug']}", out)
    else:
        out[path] = value


def document_diff(before: dict, after: dict) -> list[dict[str, Any]]:
    """What changed from one document to another, field by field: [{path, before, after}] in path
    order (`texts.de.description`, `purposes.analytics.titles.en`); None stands for absent."""
    old, new = {}, {}
    _flatten(before, "", old)
    _flatten(after, "", new)
    return [{"path": k, "before": old.get(k), "after": new.get(k)}
            for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]


def pending_changes(site: Site) -> list[dict[str, Any]]:
    """The draft's changes against what is published now (none without a draft)."""
    draft = draft_of(site)
    return document_diff(published_document(site), draft.document) if draft is not None else []


def stale(site: Site) -> bool:
    """Whether the site was published from elsewhere (an import, another editor) since the draft began."""
    draft = draft_of(site)
    return draft is not None and draft.base_hash != _hash(published_document(site))


def next_version(site: Site) -> str:
    """The version a new publish proposes: one more than the highest whole-number version, else `N+1`."""
    numbers = [int(p.version) for p in site.policies if p.version.isdigit()]
    return str(max(numbers) + 1 if numbers else len(site.policies) + 1)


def publish_draft(site: Site, ask_again: bool, version: str | None = None,
                  url: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Publish the site's draft: its changes become what visitors see, under a new policy version
    (`version`, default next_version; `url`, default the current policy's) that asks every visitor
    again if `ask_again`, else stands as a correction. Returns (the changes, the new version).
    SiteError when there is no draft or it changes nothing. Commits (the import's audit entries say
    what changed, and that the version was published)."""
    changes = pending_changes(site)
    if draft_of(site) is None or not changes:
        raise SiteError("there is nothing to publish: the draft changes nothing")
    doc = {**export_site(site), **draft_document(site)}
    new_version = version or next_version(site)
    current = site.policies[-1].url if site.policies else ""
    doc["policies"] = doc["policies"] + [{"version": new_version, "url": url if url is not None else current,
                                          "effective_at": utcnow().isoformat(), "asks_again": bool(ask_again)}]
    db.session.delete(draft_of(site))
    import_site(doc)  # validates, audits each kind of change and the new version, commits
    return changes, new_version


def preview_config(site: Site, doc: dict, language: str, regime: str, endpoint: str) -> dict:
    """The widget configuration a visitor in `regime` reading `language` would get if `doc` (a
    draft document) were published: the site's snapshot with the draft's fields, resolved."""
    if regime not in PREVIEW_PLACES:
        raise SiteError(f"regime: one of {', '.join(PREVIEW_PLACES)}")
    validate_site_doc({**export_site(site), **doc})
    languages = tuple(doc.get("languages") or ("en",))
    if language not in languages:
        raise SiteError(f"language: one of {', '.join(languages)}")
    snap = dataclasses.replace(
        build_snapshot(site), languages=languages, default_language=language,
        texts={lang: texts_for(doc.get("texts") or {}, lang) for lang in languages},
        purposes=tuple(doc.get("purposes") or ()), origins=frozenset(doc.get("origins") or ()),
        regime_overrides={}, uses_google=bool(doc.get("uses_google", True)),
        theme=normalise_theme(doc.get("theme")) or None)
    config = resolve_config(snap, PREVIEW_PLACES[regime], language, False, endpoint, regime=regime)
    return config
