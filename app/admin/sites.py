"""The sites a user may see (/admin/) and each site's pages (/admin/sites/<site_key>...).

A site the user is not granted answers 404, as a key no site has (access.site_for), so the
dashboard never tells anyone which other sites exist; a page their role does not allow answers 403.

A site's pages share one layout (admin/site/base.html) with a navigation built from SITE_PAGES,
showing each page only to users whose role has its permission. The overview is made of the
sections in OVERVIEW_SECTIONS, each a template of its own: a new page joins SITE_PAGES, a new
part of the overview joins OVERVIEW_SECTIONS (and OVERVIEW_CONTEXT for what it shows).
"""
from flask import request, url_for

from app.admin.blueprint import bp
from app.admin.pages import page
from app.admin.session import signed_in_user
from app.errors import NotFound
from app.services.sites import sightings
from app.services.sites.documents import export_site
from app.services.sites.snapshot import build_snapshot
from app.services.users import access, roles

# (endpoint, label, permission) of each page of a site, in the order of its navigation
SITE_PAGES = [("admin.site_overview", "Overview", "site.read")]
OVERVIEW_SECTIONS = ["admin/site/_embed.html", "admin/site/_settings.html", "admin/site/_purposes.html"]
# functions (site, query arguments) -> what their sections show, added by the modules that own them
OVERVIEW_CONTEXT = []


def site_page(template, site, user, **context):
    """A page of one site, with the site's navigation and what the user may do there."""
    allowed = roles.permissions(user, site.id)
    nav = [(endpoint, label) for endpoint, label, permission in SITE_PAGES if permission in allowed]
    return page(template, site=site, site_nav=nav, allowed=allowed, **context)


@bp.get("/")
def home():
    """The sites the signed-in user may see: name, site key, origins."""
    user = signed_in_user()
    return page("admin/home.html", sites=access.visible_sites(user), installation_owner=user.all_sites)


@bp.get("/sites/<site_key>")
def site_overview(site_key):
    """A site's overview: getting started (the tag, the gating markup, where it has been seen
    working), and its settings and purposes, read only."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "site.read")
    doc = export_site(site)
    purposes = [p["slug"] for p in doc["purposes"] if p["legal_basis"] != "necessary"]
    extra = {k: v for provide in OVERVIEW_CONTEXT for k, v in provide(site, request.args).items()}
    return site_page("admin/site/overview.html", site, user, doc=doc, policy=build_snapshot(site).policy, **extra,
                     sections=OVERVIEW_SECTIONS, sightings=sightings.sightings(site.id),
                     gate_purpose=purposes[0] if purposes else "analytics",
                     frame_purpose=purposes[-1] if purposes else "marketing",
                     widget_url=url_for("embed.get_widget", site_key=site.site_key, _external=True))


@bp.get("/<path:unknown>")
def unknown_page(unknown):
    """Any other path under /admin: the dashboard's own 404 page (not the API's JSON)."""
    raise NotFound("There is no such page in the dashboard.")
