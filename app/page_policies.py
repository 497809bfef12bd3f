"""The Content-Security-Policy of every HTML page the service answers, in one place.

Each policy starts from BASE (nothing may load, the page is never framed, cannot change its base
URL and posts no form) and allows only what that page uses. The pages set them: `app/links.py`
(mail links), `app/docs.py` (the API docs), `app/demo.py` (the demo shop), `app/admin/` (the
dashboard). The headers every answer carries, HTML or not (nosniff, HSTS), are
`app.api.replies.security_headers`.
"""
import base64
import hashlib
import secrets

BASE = {"default-src": "'none'", "frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'none'"}


def policy(**directives: str) -> str:
    """BASE with these directives added or replaced (`script_src="'self'"` is `script-src 'self'`)."""
    merged = dict(BASE, **{name.replace("_", "-"): value for name, value in directives.items()})
    return "; ".join(f"{name} {value}" for name, value in merged.items())


def sha256_source(text: str) -> str:
    """The source expression that allows exactly this inline style or script."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def new_nonce() -> str:
    """A fresh nonce for one answer: 128 random bits, never reused, so a page's inline code is its own."""
    return secrets.token_urlsafe(16)


def scan_report(nonce: str) -> str:
    """A compliance scan's standalone report (app/templates/scanner/report.html): its one style by
    this answer's nonce, its screenshots as data: images, nothing else (no script, no fetch)."""
    return policy(style_src=f"'nonce-{nonce}'", img_src="data:")


def mail_link(style: str) -> str:
    """Mail-link pages: their one style by its hash, no script, forms only back to themselves."""
    return policy(style_src=sha256_source(style), form_action="'self'")


# Redoc, from static/docs/, reads the OpenAPI document from here. It injects its styles at run
# time (styled-components), hence 'unsafe-inline' for styles only; data: images are its icons;
# its search index runs in a worker made from a blob: URL.
API_DOCS = policy(script_src="'self'", style_src="'self' 'unsafe-inline'", img_src="'self' data:",
                  font_src="'self'", connect_src="'self'", worker_src="blob:")


def demo(nonce: str) -> str:
    """The demo shop: the widget from here (as a customer's page allows our origin), the page's inline
    scripts by this answer's nonce, which the widget carries to the gated ones it releases, and the
    ad frame from here. Styles: the shop's file and the widget's constructed stylesheet, which
    style-src does not govern; the nonce is for browsers without one, where the widget's <style>
    carries it."""
    return policy(script_src=f"'self' 'nonce-{nonce}'", style_src=f"'self' 'nonce-{nonce}'", connect_src="'self'",
                  frame_src="'self'", img_src="'self'")


# What the demo's gated ad frame shows: its stylesheet, framed by the demo page only.
DEMO_AD = policy(style_src="'self'", frame_ancestors="'self'")

# The dashboard (app/admin/): its stylesheet and script from static/admin/, forms posted back to it.
ADMIN = policy(script_src="'self'", style_src="'self'", img_src="'self'", form_action="'self'")
