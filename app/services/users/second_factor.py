"""The optional second factor: a TOTP (RFC 6238, pyotp) secret, set up by proving a code first.

Setting up keeps a pending secret; it counts only once a code from it verifies. Both are sealed
under the master key in the user's row (keyring.seal, bound to the row and column). A code is good
within one 30-second step either side of now, and only once: the step it matched is remembered
and no code of that step or an earlier one is taken again.
"""
import hmac
import time

import pyotp

from app.extensions import db
from app.models import User
from app.services import audit
from app.services.keyring import seal, sealed_context, unseal
from app.services.users import passwords, settings
from app.services.users.accounts import target
from app.services.users.errors import UserError

ISSUER = "OpsIQ Consent"
STEP_SECONDS = 30
DRIFT_STEPS = 1  # codes of one step before or after now are taken (clocks drift, people type slowly)


def _sealed(user: User, column: str, secret: str) -> str:
    return seal(sealed_context("users", column, user.id), secret)


def _opened(user: User, column: str) -> str | None:
    token = getattr(user, column)
    return unseal(sealed_context("users", column, user.id), token) if token else None


def _not_set_up(user: User) -> None:
    # replacing a factor in force takes removing it first, which proves the password: a session left
    # open must not be enough to move someone's second factor to another phone
    if user.has_second_factor:
        raise UserError("Two-step sign-in is on already: turn it off first to set up another.")


def start_setup(user: User) -> str:
    """A new pending secret for the user (replacing one not yet confirmed); returns it in base32."""
    _not_set_up(user)
    secret = pyotp.random_base32()
    user.totp_pending = _sealed(user, "totp_pending", secret)
    db.session.commit()
    return secret


def pending_secret(user: User) -> str | None:
    """The secret being set up, not yet confirmed by a code; None when no setup is under way."""
    return _opened(user, "totp_pending")


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app takes (typed or pasted: the dashboard shows no QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    code = "".join((code or "").split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp, now = pyotp.TOTP(secret), int(time.time()) // STEP_SECONDS
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enable(user: User, code: str) -> None:
    """Turn the pending secret into the user's second factor, once `code` is one of its codes; every
    other session of theirs ends (it signed in without it)."""
    _not_set_up(user)
    secret = pending_secret(user)
    if secret is None:
        raise UserError("Start setting up a second factor first.")
    step = _matching_step(secret, code, None)
    if step is None:
        raise UserError("That code is not the one your app shows now.", {"code": ["Not the current code."]})
    user.totp_secret, user.totp_pending, user.totp_last_step = _sealed(user, "totp_secret", secret), None, step
    user.session_version += 1
    audit.record("user.totp_enabled", target(user), None, {})
    db.session.commit()


def accept_code(user: User, code: str) -> bool:
    """Whether `code` is a current code of the user's second factor not used before (remembered, to
    be committed with the sign-in it lets through)."""
    secret = _opened(user, "totp_secret")
    step = _matching_step(secret, code, user.totp_last_step) if secret else None
    if step is None:
        return False
    user.totp_last_step = step
    return True


def remove(user: User, password: str) -> None:
    """The user turns their second factor off, proving their password; refused while the
    installation requires one."""
    if settings.second_factor_required():
        raise UserError("This installation requires a second factor: it cannot be turned off.")
    if not passwords.verify_password(user.password_hash, password or ""):
        raise UserError("The password is not right.", {"password": ["Not right."]})
    _remove(user, "self")


def reset(user: User) -> None:
    """An operator removes a user's second factor (a lost phone): they sign in with their password
    and, where the installation requires one, set up a new one before anything else."""
    _remove(user, "reset")


def _remove(user: User, by: str) -> None:
    user.totp_secret = user.totp_pending = user.totp_last_step = None
    user.session_version += 1
    audit.record("user.totp_removed", target(user), None, {"by": by})
    db.session.commit()
