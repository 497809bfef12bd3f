"""Domain errors: what went wrong, in the services' own terms.

Services, the ledger and the CLI raise these and know nothing of HTTP. The API layer maps each
kind to a status and the one JSON error shape, once (`app/api/errors.py`); the CLI prints the
message. `errors` names the fields at fault ({field: [message, ...]}) where that helps a caller.
"""


class DomainError(Exception):
    """Base of every domain error: a message for people, and optionally the fields at fault."""

    def __init__(self, message="", errors=None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class Invalid(DomainError):
    """The input breaks a rule of the domain (a field, or fields together, or the site's settings)."""


class NotFound(DomainError):
    """The thing asked for does not exist, or is not the caller's to see."""


class Gone(DomainError):
    """The thing existed but can no longer be used (an expired, replaced or withdrawn link)."""


class Unauthorized(DomainError):
    """The credential or signed token presented is missing, forged, expired or for someone else."""


class Forbidden(DomainError):
    """The caller is known but may not do this: a write for a visitor bound to another browser's secret."""


class Conflict(DomainError):
    """The request contradicts what is already recorded (two people for one identity)."""


class RateLimited(DomainError):
    """The caller has sent more than its rate limit allows; `retry_after` seconds until it may again."""

    def __init__(self, message="", retry_after=1):
        super().__init__(message)
        self.retry_after = retry_after


class TooLarge(DomainError):
    """The request asks for more at once than the service handles (a batch over its limit)."""
