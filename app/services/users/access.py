"""The sites a user sees, and a site looked up for what a user wants to do with it.

A site the user is not granted is NotFound, exactly as a key no site has, so a user cannot learn
which other sites exist; a granted site for which the role lacks the permission is Forbidden.
"""
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.models import Site, User
from app.services.sites.administration import get_site
from app.services.users import roles


def visible_sites(user: User) -> list[Site]:
    """The user's sites by name: every site for an installation owner, else those granted."""
    if user.disabled:
        return []
    if user.all_sites:
        return list(db.session.execute(db.select(Site).order_by(Site.name, Site.id)).scalars())
    return sorted(user.sites, key=lambda s: (s.name, s.id))


def site_for(user: User, site_key: str, permission: str = "site.read") -> Site:
    """The site with this key if the user may do `permission` on it: NotFound if it is not theirs to
    see (or does not exist), Forbidden if their role does not allow it."""
    site = get_site(site_key)
    if site is None or not roles.can_see(user, site.id):
        raise NotFound(f"No site with key {site_key!r}.")
    if not roles.may(user, permission, site.id):
        raise Forbidden(f"Your role ({user.role}) may not {roles.PERMISSIONS[permission]}.")
    return site


def require(user: User, permission: str) -> None:
    """Forbidden unless the user has this installation permission (users.manage)."""
    if not roles.may(user, permission):
        raise Forbidden(f"Your role ({user.role}) may not {roles.PERMISSIONS[permission]} here.")
