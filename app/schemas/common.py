"""Building blocks every schema module uses: strict inputs, strict booleans, patterns, visitor ids, emails."""
import marshmallow as ma
from marshmallow import RAISE, ValidationError, fields, validate

from app.ledger.rules import VISITOR_ID_PATTERN, VISITOR_SECRET_PATTERN


def StrictBool(**kwargs):
    """A boolean that is JSON true or false, not "yes", 1 or "on"."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


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


class EMAIL(fields.Email):
    """An address, trimmed before marshmallow's check; the service lower-cases it before hashing."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value.strip() if isinstance(value, str) else value, attr, data, **kwargs)
