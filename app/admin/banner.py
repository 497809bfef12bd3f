"""The banner editor (/admin/sites/<site_key>/banner), its live preview, and publishing.

The editor edits the site's draft (app/services/sites/drafts.py), one language at a time: the
banner texts (inputs named by the site document's text keys), each purpose's title and description
in that language, its legal basis, Consent Mode keys, cookies and storage keys, the allowed origins,
the regime overrides and the theme colours (checked for contrast: app/services/theme.py).
Visitors see none of it until it is published, from the publish page, which shows what changed
and asks whether every visitor is to be asked again.

The preview is the real widget (static/widget.js, the bytes /w/<site_key>.js serves) with the
draft's configuration inlined, in a frame of its own: the editor's form posts to it as one types
(static/admin/banner.js), for the chosen language and regime, without saving anything. In the
frame, static/admin/preview.js keeps the widget from storing or sending anything.
"""
import os

from flask import current_app, flash, redirect, request, url_for

from app import page_policies
from app.admin.blueprint import bp
from app.admin.pages import page
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.embed import js_literal
from app.widget_file import widget_parts
from app.errors import Invalid
from app.schemas.sites import SiteConfigOut
from app.services import regimes
from app.services.purposes import CONSENT_MODE_KEYS, LEGAL_BASES
from app.services.sites import drafts
from app.services.sites.errors import SiteError
from app.services.sites.resolution import texts_for
from app.services.texts import BANNER_TEXTS
from app.services.theme import DEFAULTS as THEME_DEFAULTS, THEME_KEYS
from app.services.users import access

SITE_PAGES.append(("admin.banner", "Banner", "banner.edit"))
TEXT_KEYS = tuple(BANNER_TEXTS["en"])
REGIMES = (regimes.OPT_IN, regimes.OPT_OUT, regimes.NOTICE)
REGIME_LABELS = {regimes.OPT_IN: "Opt-in (EU, UK)", regimes.OPT_OUT: "Opt-out (US-CA)", regimes.NOTICE: "Notice"}
PREVIEW_ENDPOINT = "https://preview.invalid/api/v1/consents"  # never reached: preview.js answers in the frame
# The editor frames its preview; the preview is framed by the dashboard only.
EDITOR_POLICY = page_policies.policy(script_src="'self'", style_src="'self'", img_src="'self'",
                                     form_action="'self'", frame_src="'self'")


def _language(doc, requested):
    languages = doc.get("languages") or ["en"]
    return requested if requested in languages else doc.get("default_language") or languages[0]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]


def _overrides(text: str) -> dict[str, str]:
    """`US-NY = opt_out` lines; Invalid names a line that is not one."""
    out, bad = {}, []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        code, sep, regime = line.partition("=")
        if not sep or not code.strip():
            bad.append(line.strip())
        else:
            out[code.strip().upper()] = regime.strip()
    if bad:
        raise Invalid(errors={"regime_overrides": [f"not `CODE = regime`: {b}" for b in bad]})
    return out


def changes_from_form(doc: dict, lang: str, form) -> dict:
    """The draft's fields as the editor's form has them for `lang` (other languages unchanged)."""
    texts = {k: dict(v) for k, v in (doc.get("texts") or {}).items()}
    defaults = texts_for({}, lang)
    ours = {k: form.get(k, "").strip() for k in TEXT_KEYS if k in form}
    # a text equal to the built-in one is no override: the built-in stays translated when it changes
    texts[lang] = {k: v for k, v in {**texts.get(lang, {}), **ours}.items() if v and v != defaults.get(k)}
    if not texts[lang]:
        del texts[lang]
    purposes = []
    for p in doc.get("purposes") or []:
        slug = p["slug"]
        if form.get(f"purpose-{slug}-remove") and p["legal_basis"] != "necessary":
            continue
        p = {**p, "titles": dict(p.get("titles") or {}), "descriptions": dict(p.get("descriptions") or {})}
        for field, key in (("titles", "title"), ("descriptions", "description")):
            value = form.get(f"purpose-{slug}-{key}", "").strip()
            if value:
                p[field][lang] = value
            else:
                p[field].pop(lang, None)
        if p["legal_basis"] != "necessary":
            p["legal_basis"] = form.get(f"purpose-{slug}-basis", p["legal_basis"])
        p["consent_mode_keys"] = [k for k in CONSENT_MODE_KEYS if form.get(f"purpose-{slug}-cm-{k}")]
        p["cookies"] = _lines(form.get(f"purpose-{slug}-cookies", ""))
        p["storage_keys"] = _lines(form.get(f"purpose-{slug}-storage", ""))
        purposes.append(p)
    new_slug = form.get("new-purpose-slug", "").strip()
    if new_slug:
        title = form.get("new-purpose-title", "").strip()
        purposes.append({"slug": new_slug, "legal_basis": form.get("new-purpose-basis", "consent"),
                         "default_on": False, "titles": {lang: title} if title else {}, "descriptions": {},
                         "consent_mode_keys": [], "cookies": [], "storage_keys": []})
    theme = {k: form.get(f"theme-{k}", "").strip() for k in THEME_KEYS}
    return {"texts": texts, "purposes": purposes, "origins": _lines(form.get("origins", "")),
            "regime_overrides": _overrides(form.get("regime_overrides", "")),
            "theme": {k: v for k, v in theme.items() if v}}


def _editor(site, user, doc, lang, errors=None, status=200):
    resp = site_page("admin/site/banner.html", site, user, doc=doc, lang=lang, text_keys=TEXT_KEYS,
                     defaults=texts_for({}, lang), texts=(doc.get("texts") or {}).get(lang, {}),
                     legal_bases=LEGAL_BASES, consent_mode_keys=CONSENT_MODE_KEYS, regimes=REGIMES,
                     theme_keys=THEME_KEYS, theme_defaults=THEME_DEFAULTS,
                     regime_labels=REGIME_LABELS, changes=drafts.pending_changes(site), stale=drafts.stale(site),
                     errors=errors, has_draft=drafts.draft_of(site) is not None)
    body, _ = resp
    return body, status, {"Content-Security-Policy": EDITOR_POLICY}


@bp.get("/sites/<site_key>/banner")
def banner(site_key):
    """The editor for one language of the site's draft, beside the live preview."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "banner.edit")
    doc = drafts.draft_document(site)
    return _editor(site, user, doc, _language(doc, request.args.get("lang")))


@bp.post("/sites/<site_key>/banner")
def save_banner(site_key):
    """Save the form into the draft (visitors see nothing of it until it is published)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "banner.edit")
    doc = drafts.draft_document(site)
    lang = _language(doc, request.args.get("lang"))
    try:
        changes = changes_from_form(doc, lang, request.form)
    except Invalid as e:
        return _editor(site, user, doc, lang, errors=_flat(e.errors), status=422)
    try:
        drafts.save_draft(site, changes)
    except Invalid as e:  # shown with what was typed, so nothing is lost
        return _editor(site, user, {**doc, **changes}, lang, errors=[e.message, *_flat(e.errors)], status=422)
    flash("Draft saved. Visitors see it once it is published.")
    return redirect(url_for("admin.banner", site_key=site.site_key, lang=lang))


def _flat(errors) -> list[str]:
    return [f"{k}: {m}" for k, ms in (errors or {}).items() for m in ms]


@bp.post("/sites/<site_key>/banner/discard")
def discard_banner(site_key):
    user = signed_in_user()
    site = access.site_for(user, site_key, "banner.edit")
    flash("Draft discarded." if drafts.discard_draft(site) else "There was no draft.")
    return redirect(url_for("admin.banner", site_key=site.site_key))


@bp.route("/sites/<site_key>/preview", methods=["GET", "POST"])
def preview(site_key):
    """The real widget showing a draft (the saved one, or on POST the editor's unsaved form) for
    `lang` and `regime`; `view=dialog` opens the preferences dialog."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "banner.edit")
    doc = drafts.draft_document(site)
    values = request.form if request.method == "POST" else request.args
    lang = _language(doc, values.get("preview_lang") or request.args.get("lang"))
    regime = values.get("preview_regime") or request.args.get("regime") or regimes.OPT_IN
    problem = None
    if request.method == "POST":
        try:
            doc = {**doc, **changes_from_form(doc, lang, request.form)}
        except Invalid as e:
            problem = "; ".join(_flat(e.errors))
    try:
        config = SiteConfigOut().dump(drafts.preview_config(site, doc, lang, regime, PREVIEW_ENDPOINT))
    except Invalid as e:
        problem, config = e.message, None
    nonce = page_policies.new_nonce()
    script = None
    if config is not None:
        before, after = widget_parts(os.path.join(current_app.static_folder, "widget.js"))
        script = before + js_literal(config) + after
    body, _ = page("admin/preview.html", site=site, lang=lang, regime=regime, script=script, nonce=nonce,
                   problem=problem, view=values.get("view", "banner"))
    policy = page_policies.policy(script_src=f"'self' 'nonce-{nonce}'", style_src=f"'self' 'nonce-{nonce}'",
                                  frame_ancestors="'self'")
    return body, 200, {"Content-Security-Policy": policy, "X-Frame-Options": "SAMEORIGIN"}


@bp.get("/sites/<site_key>/publish")
def publish_form(site_key):
    """What publishing the draft would change, the version it would publish, and the button."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "policy.publish")
    return site_page("admin/site/publish.html", site, user, changes=drafts.pending_changes(site),
                     stale=drafts.stale(site), version=drafts.next_version(site),
                     policy_url=site.policies[-1].url if site.policies else "")


@bp.post("/sites/<site_key>/publish")
def publish(site_key):
    """Publish the draft as a new policy version: what visitors see from now on, asking every visitor
    again or standing as a correction."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "policy.publish")
    ask_again = bool(request.form.get("ask_again"))
    try:
        changes, version = drafts.publish_draft(site, ask_again, request.form.get("version", "").strip() or None,
                                                request.form.get("policy_url", "").strip() or None)
    except SiteError as e:
        flash(e.message)
        return redirect(url_for("admin.publish_form", site_key=site_key))
    flash(f"Published {len(changes)} change(s) as policy version {version}: every visitor is asked again."
          if ask_again else f"Published {len(changes)} change(s) as policy version {version}, a correction: "
          "choices made since the last version that asked again still count.")
    return redirect(url_for("admin.banner", site_key=site_key))
