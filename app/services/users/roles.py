"""Who may do what: the roles, the permissions each grants, and on which sites.

The one home of these rules: the dashboard's views and the services ask `may` (or access.site_for),
never a role by name. A user sees only the sites they are granted; an installation owner
(`all_sites`, role owner) sees every site, those created later too. INSTALLATION_PERMISSIONS are
not about one site (managing users, who may be granted any site): only installation owners have
them, so a site's owner cannot grant themselves another site.
"""
from typing import Protocol

ROLES = ("owner", "editor", "privacy", "viewer")
ROLE_DESCRIPTIONS = {
    "owner": "everything, including API keys, users and erasure",
    "editor": "the banner, purposes, policies (and their proof packs), webhooks and compliance scans",
    "privacy": "the consent log, exports, data-subject requests and the audit log",
    "viewer": "read only",
}
# permission -> what it lets a user do (as the dashboard says it when it refuses)
PERMISSIONS = {
    "site.read": "see the site's settings and overview",
    "banner.edit": "edit the banner's texts and looks",
    "purposes.edit": "edit the purposes",
    "policy.publish": "publish a policy version",
    "proof.rebuild": "rebuild a proof pack",
    "webhooks.edit": "manage webhooks",
    "keys.manage": "create and revoke API keys",
    "users.manage": "manage users",
    "consent_log.read": "read the consent log",
    "subjects.export": "export a person's data",
    "subjects.erase": "erase a person's data",
    "subject_requests.manage": "manage data-subject requests",
    "audit.read": "read the audit log",
    "scans.run": "start compliance scans of the site's pages",
}
INSTALLATION_PERMISSIONS = frozenset({"users.manage"})

_READ = frozenset({"site.read"})
GRANTS = {
    "viewer": _READ,
    "editor": _READ | {"banner.edit", "purposes.edit", "policy.publish", "proof.rebuild",
                       "webhooks.edit", "scans.run"},
    "privacy": _READ | {"consent_log.read", "subjects.export", "subject_requests.manage", "audit.read"},
    "owner": frozenset(PERMISSIONS),
}


class Principal(Protocol):
    """What the rules read of a user (app/models/users.py User has it)."""

    role: str
    all_sites: bool
    disabled: bool

    @property
    def site_ids(self) -> set[int]: ...


def can_see(user: Principal, site_id: int) -> bool:
    """Whether the site is one of the user's: granted, or every site for an installation owner."""
    return not user.disabled and (user.all_sites or site_id in user.site_ids)


def may(user: Principal, permission: str, site_id: int | None = None) -> bool:
    """Whether the user may do `permission` on the site `site_id` (None for an installation permission).

    A permission that is not in PERMISSIONS, or a site permission asked without a site, is a bug in
    the caller: ValueError."""
    if permission not in PERMISSIONS:
        raise ValueError(f"not a permission: {permission!r}")
    if (site_id is None) != (permission in INSTALLATION_PERMISSIONS):
        raise ValueError(f"{permission} is {'not ' if site_id is None else ''}asked of one site")
    if user.disabled or permission not in GRANTS.get(user.role, ()):
        return False
    if permission in INSTALLATION_PERMISSIONS:
        return user.all_sites
    return can_see(user, site_id)


def permissions(user: Principal, site_id: int) -> set[str]:
    """Every site permission the user has on this site (for a template to show only what they may use)."""
    return {p for p in PERMISSIONS if p not in INSTALLATION_PERMISSIONS and may(user, p, site_id)}
