"""Building blocks every schema module uses: strict inputs, strict booleans, patterns, visitor ids, emails."""
import marshmallow as ma
from marshmallow import RAISE, ValidationError, fields, validate

from app.ledger.rules import VISITOR_ID_PATTERN, VISITOR_SECRET_PATTERN


class StrictBool(fields.Boolean):
    """A boolean that is JSON true or false, not "yes", 1 or "on" (nor 0 or 1, which equal False and
    True in Python, so that truthy/falsy sets would let them through)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


class Pattern(validate.Regexp):
    """A pattern the whole value must match. The OpenAPI document shows the pattern as written, and
    JSON Schema reads it as ECMA-262, where `$` is the end of the text; Python's `re.match` would also let
    a final newline through `$`, so the value is matched whole (`fullmatch`) and both read it alike."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


VISITOR_ID = Pattern(VISITOR_ID_PATTERN, error="8 to 64 characters: letters, digits, _ . : -")
VISITOR_SECRET = Pattern(VISITOR_SECRET_PATTERN, error="22 to 128 characters: letters, digits, _ -")
# An absolute http(s) URL with a host, and no space or control character anywhere (a browser's
# location.href never has one); the service or the URL parser may still refuse what a pattern cannot see.
HTTP_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\x00-\x20][^\x00-\x20]*$"
HTTP_URL = Pattern(HTTP_URL_PATTERN, error="must be an http(s) URL")
# ISO 3166-1 alpha-2 and ISO 3166-2 codes as the ledger stores them (upper case; either case is taken)
SHA256_HEX_PATTERN = r"^[0-9a-f]{64}$"
SHA256_HEX = Pattern(SHA256_HEX_PATTERN, error="a SHA-256, 64 lower-case hex digits")
COUNTRY = Pattern(r"^[A-Za-z]{2}$", error="an ISO 3166-1 alpha-2 code, e.g. DE")
REGION = Pattern(r"^[A-Za-z]{2}-[A-Za-z0-9]{1,3}$", error="an ISO 3166-2 code, e.g. US-CA")
# fields.IP takes an IPv4 or an IPv6 address; JSON Schema names the two formats apart
IP_ADDRESS = {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}

# Field limits, stated once for the schemas and the fast validators that are tested against them.
SITE_KEY_MAX = 32
SLUG_MAX = 64  # a purpose slug
EMAIL_MAX = 320
PAGE_URL_MAX = 2048
POLICY_VERSION_MAX = 64
LANGUAGE_LENGTH = (2, 16)


class StrictSchema(ma.Schema):
    class Meta:
        unknown = RAISE


def given(field, **rules):
    """A branch of a `Meta.openapi` cross-field rule (app/api/document.py): the text field `field` is
    given and not null, with other JSON Schema `rules`."""
    return {"required": [field], "properties": {field: {"type": "string"}}, **rules}


class EMAIL(fields.Email):
    """An address, trimmed before marshmallow's check; the service lower-cases it before hashing."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value.strip() if isinstance(value, str) else value, attr, data, **kwargs)
