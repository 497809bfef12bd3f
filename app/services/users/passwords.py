"""Dashboard passwords: argon2id hashes (argon2-cffi, RFC 9106's low-memory profile: 3 passes over
64 MiB, 4 lanes) and the rules a new password must meet.

The rules follow NIST SP 800-63B: a length floor and no composition rules; the ceiling only keeps
one sign-in from hashing megabytes.
"""
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.services.users.errors import UserError

MIN_LENGTH = 12
MAX_LENGTH = 1024
_hasher = PasswordHasher()  # argon2id with argon2-cffi's defaults (RFC 9106 low-memory); no state
# The hash of a random password no one knows: an unknown account's sign-in is checked against it,
# so that it takes as long as a known one's and the time does not tell which accounts exist.
_NOBODY = "$argon2id$v=19$m=65536,t=3,p=4$fj3IDL6PCb5yskI2YByhPg$EdYEdA7mzrDcT57FjoxlDT65aAFcb3jTAXbW2LsAWWI"


def hash_password(password: str) -> str:
    """The argon2id hash of a password, in the PHC string format (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; with no hash (no such account) it spends the same time
    and answers False."""
    try:
        return _hasher.verify(stored_hash or _NOBODY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than today's (it is made again at sign-in)."""
    return _hasher.check_needs_rehash(stored_hash)


def check_new_password(password: str | None, field: str = "password") -> None:
    """UserError unless the password is MIN_LENGTH to MAX_LENGTH characters."""
    if not password or len(password) < MIN_LENGTH:
        raise UserError(f"A password needs {MIN_LENGTH} characters at least.",
                        {field: [f"At least {MIN_LENGTH} characters."]})
    if len(password) > MAX_LENGTH:
        raise UserError(f"A password may have {MAX_LENGTH} characters at most.",
                        {field: [f"At most {MAX_LENGTH} characters."]})


def new_password() -> str:
    """A random password (20 URL-safe characters, 120 bits) for an account made by a command."""
    return secrets.token_urlsafe(15)
