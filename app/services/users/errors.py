"""The errors the user services raise (app/errors.py's kinds, so every layer maps them as it maps the rest)."""
from app.errors import Forbidden, Invalid, Unauthorized


class UserError(Invalid):
    """A user cannot be made or changed so (an unknown role, a short password); the message says why."""


class SignInRefused(Unauthorized):
    """A sign-in that did not go through: `reason` is `unknown`, `password` or `code` (never shown apart:
    the message is the same for each, so that it does not tell which accounts exist)."""

    def __init__(self, reason, message="The email or password is not right."):
        super().__init__(message)
        self.reason = reason


class AccountDisabled(Forbidden):
    """The password was right but the account is disabled (told only to someone who knows the password)."""
