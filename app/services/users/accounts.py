"""Dashboard users: made, found, listed, disabled and enabled; passwords reset and changed.

Each change is audited with the user as target, by id (never the email), in its own transaction.
A change to how one signs in (a password set or reset, a second factor added or removed) raises
the user's session version, which ends every session signed in before (app/admin/session.py).
"""
import re

from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import User
from app.services import audit
from app.services.keyring import normalise_email
from app.services.sites.administration import require_site
from app.services.users import passwords, roles
from app.services.users.errors import UserError

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def target(user: User) -> audit.Target:
    """The audit target that names a user: their id."""
    return audit.Target("user", str(user.id))


def create_user(email: str, role: str, password: str, site_keys: tuple[str, ...] | list[str] = ()) -> User:
    """Make a user with this role on these sites; an owner given no site is an installation owner
    (every site). Any other role needs a site. Conflict if the email has a user already."""
    email = normalise_email(email)
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise UserError(f"not an email address: {email!r}", {"email": ["Not an email address."]})
    if role not in roles.ROLES:
        raise UserError(f"a role is one of {', '.join(roles.ROLES)}", {"role": [f"One of {', '.join(roles.ROLES)}."]})
    if not site_keys and role != "owner":
        raise UserError(f"a user with the role {role} needs a site (--site SITE_KEY)")
    sites = [require_site(key) for key in dict.fromkeys(site_keys)]
    if find_user(email) is not None:
        raise Conflict("A user with this email exists already.")
    passwords.check_new_password(password)
    user = User(email=email, password_hash=passwords.hash_password(password), role=role, all_sites=not sites,
                disabled=False, session_version=1, sites=sites)
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", target(user), None,
                 {"role": role, "all_sites": user.all_sites, "sites": [s.site_key for s in sites]})
    db.session.commit()
    return user


def find_user(email: str) -> User | None:
    """The user with this email (any case, surrounding spaces ignored), or None."""
    return db.session.execute(db.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def require_user(email: str) -> User:
    """The user with this email; NotFound if there is none."""
    user = find_user(email)
    if user is None:
        raise NotFound("No user with this email.")
    return user


def get_user(user_id: int) -> User:
    """The user with this id; NotFound if there is none."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id.")
    return user


def _keep_an_installation_owner(user: User) -> None:
    """Conflict if `user` is the last enabled installation owner: no one could manage users after."""
    if user.disabled or not (user.all_sites and user.role == "owner"):
        return
    others = db.session.execute(db.select(db.func.count()).select_from(User).where(
        User.id != user.id, User.role == "owner", User.all_sites.is_(True), User.disabled.is_(False))).scalar_one()
    if not others:
        raise Conflict("This is the last installation owner: make another one first.")


def set_role(user: User, role: str, site_keys: tuple[str, ...] | list[str] = ()) -> None:
    """Give a user another role and set of sites, by the rules of create_user (an owner given no
    site is an installation owner; any other role needs a site). Conflict rather than leave no
    enabled installation owner."""
    if role not in roles.ROLES:
        raise UserError(f"a role is one of {', '.join(roles.ROLES)}", {"role": [f"One of {', '.join(roles.ROLES)}."]})
    if not site_keys and role != "owner":
        raise UserError(f"a user with the role {role} needs a site", {"sites": ["Choose at least one site."]})
    sites = [require_site(key) for key in dict.fromkeys(site_keys)]
    if user.role == role and user.all_sites == (not sites) and user.site_ids == {s.id for s in sites}:
        return
    if not (role == "owner" and not sites):
        _keep_an_installation_owner(user)
    user.role, user.all_sites, user.sites = role, not sites, sites
    audit.record("user.role_changed", target(user), None,
                 {"role": role, "all_sites": user.all_sites, "sites": [s.site_key for s in sites]})
    db.session.commit()


def emails_by_id(user_ids) -> dict[int, str]:
    """{user id: email} of those of these ids that name a user (for showing who an audit actor is)."""
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        return {}
    return dict(db.session.execute(db.select(User.id, User.email).where(User.id.in_(ids))).all())


def list_users() -> list[User]:
    """Every user, oldest first."""
    return list(db.session.execute(db.select(User).order_by(User.id)).scalars())


def set_disabled(user: User, disabled: bool, keep_an_owner: bool = False) -> None:
    """Disable a user (every session of theirs ends, and they cannot sign in) or enable them again.
    With `keep_an_owner` (the dashboard), Conflict rather than disable the last installation owner:
    the CLI may, since an operator on the server can always make one again."""
    if user.disabled == disabled:
        return
    if disabled and keep_an_owner:
        _keep_an_installation_owner(user)
    user.disabled = disabled
    user.session_version += 1
    audit.record("user.disabled" if disabled else "user.enabled", target(user), None, {})
    db.session.commit()


def reset_password(user: User, password: str) -> None:
    """Set a user's password for them (an operator's command): every session of theirs ends."""
    passwords.check_new_password(password)
    user.password_hash = passwords.hash_password(password)
    user.session_version += 1
    audit.record("user.password_reset", target(user), None, {})
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """A user changes their own password, proving the current one; every other session ends."""
    if not passwords.verify_password(user.password_hash, current or ""):
        raise UserError("The current password is not right.", {"current_password": ["Not right."]})
    passwords.check_new_password(new, "new_password")
    user.password_hash = passwords.hash_password(new)
    user.session_version += 1
    audit.record("user.password_changed", target(user), None, {})
    db.session.commit()


# --- what a session holds ----------------------------------------------------------------------------

def session_token(user: User) -> str:
    """What a session keeps to name its user: the id and the session version, so that raising the
    version (a password reset, a disabling) ends every session that holds an older one."""
    return f"{user.id}.{user.session_version}"


def user_for_session(token: str | None) -> User | None:
    """The user a session token names, if it is still good: the version current, the user enabled."""
    user_id, _, version = (token or "").partition(".")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.disabled or user.session_version != int(version):
        return None
    return user
