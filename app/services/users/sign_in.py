"""A sign-in: the password (and, for a user who has one, the second factor's code) checked, and
what the audit log keeps of it.

Who is signing in is named by the outer layer before these are called (the account's id, or
`anonymous` for an email no user has: audit.identify). A failure is audited and committed before
SignInRefused is raised; the throttle that counts failures is the caller's (app/ratelimits.py).
"""
from app.extensions import db
from app.models import User, utcnow
from app.services import audit
from app.services.users import passwords, second_factor, settings
from app.services.users.errors import AccountDisabled, SignInRefused


def _target(user: User | None) -> audit.Target:
    return audit.Target("user", str(user.id) if user else None)


def refuse(user: User | None, reason: str) -> None:
    """Audit a failed sign-in and raise SignInRefused (AccountDisabled for a disabled account)."""
    audit.record("user.sign_in_failed", _target(user), None, {"reason": reason})
    db.session.commit()
    if reason == "disabled":
        raise AccountDisabled("This account is disabled. Ask an owner of the installation.")
    raise SignInRefused(reason)


def check_password(user: User | None, password: str) -> User:
    """The user, if `password` is theirs and they are enabled; else refused (an unknown account
    takes as long as a known one)."""
    if not passwords.verify_password(user.password_hash if user else None, password or ""):
        refuse(user, "password" if user else "unknown")
    if user.disabled:
        refuse(user, "disabled")
    return user


def needs_code(user: User) -> bool:
    """Whether the sign-in asks for a second factor's code after the password."""
    return user.has_second_factor


def must_set_up_second_factor(user: User) -> bool:
    """Whether the installation requires a second factor this user has not set up yet (they may then
    only set one up, or sign out)."""
    return not user.has_second_factor and settings.second_factor_required()


def check_code(user: User, code: str) -> None:
    """The second step: refused unless `code` is a current, unused code of the user's factor."""
    if user.disabled:
        refuse(user, "disabled")
    if not second_factor.accept_code(user, code):
        refuse(user, "code")


def signed_in(user: User, password: str | None = None) -> None:
    """Record a completed sign-in: its time, the audit entry, and the hash made again with today's
    parameters when it was made with older ones (`password` is the one just checked)."""
    user.last_sign_in_at = utcnow()
    if password is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record("user.signed_in", _target(user), None, {"second_factor": user.has_second_factor})
    db.session.commit()


def signed_out(user: User, reason: str = "signed_out") -> None:
    """Record a sign-out: the user's own (`signed_out`) or the session's end after inactivity (`idle`)."""
    audit.record("user.signed_out", _target(user), None, {"reason": reason})
    db.session.commit()
