"""Creating a site, finding it, and the origins allowed to call the browser API for it."""
import secrets
from urllib.parse import urlsplit

from app.errors import NotFound
from app.extensions import caches, db
from app.models import Purpose, ReceiptKey, Site
from app.services import audit
from app.services.sites.errors import SiteError
from app.services.sites.keys import api_key_id, create_api_key, new_receipt_secret
from app.services.sites.policies import publish_policy
from app.services.texts import DEFAULT_PURPOSES


def new_site_key() -> str:
    """A fresh public site key: 16 URL-safe characters, letters and digits only."""
    return secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")


def create_site(name: str, origins: list[str], languages=("en", "de", "fr", "es"), default_language: str = "en",
                policy_url: str = "", site_key: str | None = None) -> tuple[Site, str]:
    """Create a site with the default purposes, a receipt key and policy version 1.

    Returns (site, api_key); the API key is shown once and stored only as a hash.
    """
    if not name or not name.strip():
        raise SiteError("a site needs a name")
    origins = [normalise_origin(o) for o in origins]
    site = Site(
        site_key=site_key or new_site_key(), name=name.strip(), origins=origins,
        languages=list(languages), default_language=default_language, texts={},
        regime_overrides={},
    )
    for i, p in enumerate(DEFAULT_PURPOSES):
        site.purposes.append(Purpose(position=i, cookies=[], storage_keys=[], **p))
    db.session.add(site)
    db.session.flush()
    db.session.add(ReceiptKey(site_id=site.id, secret=new_receipt_secret(site.id)))
    publish_policy(site, "1", policy_url, commit=False)
    api_key = create_api_key(site, "default", commit=False)
    caches.changed("sites", site.site_key)  # someone may have asked for this key before: a miss is kept
    audit.record("site.created", audit.Target("site", site.site_key), site.id, {"api_key": api_key_id(api_key)})
    db.session.commit()
    return site, api_key


def normalise_origin(origin: str) -> str:
    """`https://Shop.example.com/` -> `https://shop.example.com`; refuses anything not an origin."""
    parts = urlsplit((origin or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise SiteError(f"not an origin (scheme://host[:port]): {origin!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def add_origins(site: Site, origins: list[str]) -> list[str]:
    """Allow more origins to call the browser API for a site; those it has are kept once. Returns
    the site's origins."""
    wanted = [normalise_origin(o) for o in origins]
    added = [o for o in dict.fromkeys(wanted) if o not in site.origins]
    if added:
        site.origins = site.origins + added
        caches.changed("sites", site.site_key)
        audit.record("site.updated", audit.Target("site", site.site_key), site.id, {"origins_added": added})
        db.session.commit()
    return site.origins


def set_email_double_opt_in(site: Site, on: bool) -> None:
    """Make double opt-in (on) or single opt-in (off) the site's default for email signups."""
    site.email_double_opt_in = bool(on)
    caches.changed("sites", site.site_key)
    audit.record("site.updated", audit.Target("site", site.site_key), site.id, {"email_double_opt_in": bool(on)})
    db.session.commit()


def get_site(site_key: str) -> Site | None:
    """The site with this key, or None."""
    return db.session.execute(db.select(Site).where(Site.site_key == site_key)).scalar_one_or_none()


def require_site(site_key: str) -> Site:
    """The site with this key; NotFound if there is none."""
    site = get_site(site_key)
    if site is None:
        raise NotFound(f"no site with key {site_key!r}")
    return site
