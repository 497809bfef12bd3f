"""The links in an email consent's mail: confirm a signup (expires), unsubscribe (never does; names
the address only by its keyed hash). Signed with the site's link secret."""
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from app.errors import Gone, NotFound
from app.services.keyring import keyring

CONFIRM_SALT = "opsiq.email-confirm.v1"
UNSUBSCRIBE_SALT = "opsiq.unsubscribe.v1"


def confirm_token(site_id: int, site_key: str, submission_record_id: str) -> str:
    """A signed, expiring confirmation link token naming the site and the signup it confirms."""
    ser = URLSafeTimedSerializer(keyring(site_id).link_secret, salt=CONFIRM_SALT)
    return ser.dumps({"s": site_key, "r": submission_record_id})


def unsubscribe_token(site_id: int, site_key: str, email_hash: str) -> str:
    """A link that never expires (it is in every mail) naming the address only by its keyed hash."""
    return URLSafeSerializer(keyring(site_id).link_secret, salt=UNSUBSCRIBE_SALT).dumps({"s": site_key, "h": email_hash})


def site_key_of(token: str, timed: bool) -> str | None:
    """The site a link claims to be for (unverified; the caller verifies with that site's secret)."""
    ok, payload = (URLSafeTimedSerializer if timed else URLSafeSerializer)("unused").loads_unsafe(token)
    site_key = payload.get("s") if isinstance(payload, dict) else None
    return site_key if isinstance(site_key, str) else None


def read_confirm_token(site_id: int, token: str, max_age: int) -> dict[str, Any]:
    """The claims of a confirmation link; Gone if it has expired, NotFound if it is not the site's."""
    try:
        claims = URLSafeTimedSerializer(keyring(site_id).link_secret, salt=CONFIRM_SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Gone("This confirmation link has expired.") from None
    except BadSignature:
        raise NotFound("This confirmation link is not valid.") from None
    return _claims(claims, "r", "This confirmation link is not valid.")


def read_unsubscribe_token(site_id: int, token: str) -> dict[str, Any]:
    """The claims of an unsubscribe link; NotFound if it is not the site's."""
    try:
        claims = URLSafeSerializer(keyring(site_id).link_secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        raise NotFound("This unsubscribe link is not valid.") from None
    return _claims(claims, "h", "This unsubscribe link is not valid.")


def _claims(claims: Any, key: str, invalid: str) -> dict[str, Any]:
    """Signed claims of the shape this module signs ({"s": site key, key: a string}), or NotFound."""
    if not (isinstance(claims, dict) and isinstance(claims.get("s"), str) and isinstance(claims.get(key), str)):
        raise NotFound(invalid)
    return claims
