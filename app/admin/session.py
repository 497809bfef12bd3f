"""The dashboard's sessions: Flask-Login over Flask's signed session cookie.

- A session names its user by `id.session_version` (accounts.session_token): raising the version
  (a password reset or change, a second factor added or removed, a disabling) ends every session
  that holds an older one, on its next request.
- Signing in starts a new session: everything the old one held (its CSRF secret included) is
  dropped and a fresh random id is set, so a cookie or token known before the sign-in is worth
  nothing after it.
- A session unused for ADMIN_IDLE_MINUTES is signed out (and audited as such) on its next request.
- Between the password and the code of a second factor, the session holds only the pending
  user's token, for PENDING_SECONDS.

The cookie's flags (Secure in production, HttpOnly, SameSite=Lax, path /admin) are app/config.py's.
"""
import secrets
import time

from flask import current_app, session
from flask_login import UserMixin, current_user, login_user, logout_user

from app.extensions import login_manager
from app.models import User
from app.services.users import accounts, sign_in

PENDING_SECONDS = 300  # to type the second factor's code after the password


class SessionUser(UserMixin):
    """The signed-in user as Flask-Login sees it: the User row, named by its session token."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return accounts.session_token(self.user)

    @property
    def is_active(self) -> bool:
        return not self.user.disabled

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def role(self) -> str:
        return self.user.role


def init_app(app) -> None:
    """Wire Flask-Login to the app; the idle timeout is read here, once."""
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    app.extensions["opsiq_admin_idle_seconds"] = float(app.config["ADMIN_IDLE_MINUTES"]) * 60


def load_user(token: str) -> SessionUser | None:
    """The session's user, while its token is good (Flask-Login calls this once per request)."""
    user = accounts.user_for_session(token)
    return SessionUser(user) if user is not None else None


def signed_in_user() -> User | None:
    """The User row of this request's session, or None."""
    return current_user.user if current_user.is_authenticated else None


def _start(user: User) -> None:
    session.clear()
    login_user(SessionUser(user))
    session["sid"] = secrets.token_urlsafe(16)
    session["seen"] = int(time.time())


def begin(user: User, password: str | None = None) -> None:
    """Sign the user in on a new session, and record it (`password`: the one just checked, if this
    step checked it, so an old hash can be made again)."""
    _start(user)
    sign_in.signed_in(user, password)


def renew(user: User) -> None:
    """A new session for the signed-in user after they changed how they sign in (their session
    version was raised, which ended this session too)."""
    _start(user)


def end() -> None:
    """Sign out: the session is emptied."""
    logout_user()
    session.clear()


def start_code_step(user: User) -> None:
    """The password was right; the session now waits for the second factor's code."""
    session.clear()
    session["pending"] = {"user": accounts.session_token(user), "at": int(time.time())}


def pending_user() -> User | None:
    """The user whose password was checked and whose code is awaited, while still in time."""
    pending = session.get("pending") or {}
    if time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return accounts.user_for_session(pending.get("user"))


def idle_expired() -> bool:
    """Whether the signed-in session has gone unused past the idle timeout."""
    idle = current_app.extensions["opsiq_admin_idle_seconds"]
    return time.time() - session.get("seen", 0) > idle


def touch() -> None:
    """The session was used now (at most once a second, the cookie is written again)."""
    now = int(time.time())
    if session.get("seen") != now:
        session["seen"] = now


def idle_minutes() -> int:
    return round(current_app.extensions["opsiq_admin_idle_seconds"] / 60)
