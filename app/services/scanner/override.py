"""The scanner's signed override of a visitor's region: how a scan sees a page as a visitor from
Germany or California without a proxy there.

The scanner sends REGION_HEADER with a token signed with the app's SECRET_KEY (a salt of its own)
on its requests to this service; where the service places a visitor for the widget's configuration
(app/api/browser.py resolved_config) a valid token replaces the GeoIP lookup. A token that is
forged, expired or malformed is ignored: the visitor is placed by address as always.
"""
from itsdangerous import BadData, URLSafeTimedSerializer

from app.services.geo import Location

REGION_HEADER = "X-OpsIQ-Scan-Region"
SALT = "opsiq.scan-region"
MAX_AGE = 300  # seconds a token is honoured: longer than one scan's page, far shorter than a day


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def region_token(secret: str, country: str, region: str | None) -> str:
    """A token placing the bearer in `country` (ISO 3166-1) and `region` (ISO 3166-2, `US-CA`, or None)."""
    return _serializer(secret).dumps({"country": country, "region": region})


def location_from(header: str | None, secret: str, max_age: int = MAX_AGE) -> Location | None:
    """The Location a valid token names, or None (no header, a bad signature, expired, malformed)."""
    if not header:
        return None
    try:
        data = _serializer(secret).loads(header, max_age=max_age)
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    country, region = data.get("country"), data.get("region")
    if not isinstance(country, str) or not (region is None or isinstance(region, str)):
        return None
    return Location(country, region, None)
