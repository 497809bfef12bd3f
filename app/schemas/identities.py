"""Known people: linking a visitor to a person, and a person's consent."""
from typing import ClassVar

import marshmallow as ma
from marshmallow import fields, validate

from app.schemas.common import EMAIL, EMAIL_MAX, SITE_KEY_MAX, VISITOR_ID, VISITOR_SECRET, StrictSchema, given


class IdentityIn(StrictSchema):
    """Server-to-server: this visitor is this person (email and/or external_id)."""

    class Meta(StrictSchema.Meta):
        openapi: ClassVar[dict] = {"anyOf": [given("email"), given("external_id")]}  # _one_of

    visitor_id = fields.String(required=True, validate=VISITOR_ID)
    email = EMAIL(load_default=None, allow_none=True, validate=validate.Length(max=EMAIL_MAX))
    external_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 200))

    @ma.validates_schema
    def _one_of(self, data, **kwargs):
        if not data.get("email") and not data.get("external_id"):
            raise ma.ValidationError("give an email or an external_id", "email")


class BrowserIdentityIn(StrictSchema):
    """From the widget's `identify(token)`: the token was minted by the site's own server."""

    site_key = fields.String(required=True, validate=validate.Length(1, SITE_KEY_MAX))
    visitor_id = fields.String(required=True, validate=VISITOR_ID)
    visitor_secret = fields.String(required=True, validate=VISITOR_SECRET, load_only=True, metadata={
        "description": "The secret the browser's consent writes carry: without it a visitor id links nothing (403)"})
    token = fields.String(required=True, validate=validate.Length(1, 4096))


class IdentityOut(ma.Schema):
    person_id = fields.String()
    visitor_id = fields.String()
    created = fields.Boolean(metadata={"description": "A new person was made"})
    linked = fields.Boolean(metadata={"description": "The visitor was not linked to this person before"})


class PersonLookupIn(StrictSchema):
    """Find a person by exactly one of email, external_id, person_id."""

    class Meta(StrictSchema.Meta):
        openapi: ClassVar[dict] = {"oneOf": [given("email"), given("external_id"), given("person_id")]}  # _exactly_one

    email = EMAIL(load_default=None, allow_none=True)
    external_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 200))
    person_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 36))

    @ma.validates_schema
    def _exactly_one(self, data, **kwargs):
        if sum(1 for k in ("email", "external_id", "person_id") if data.get(k)) != 1:
            raise ma.ValidationError("give exactly one of email, external_id, person_id", "email")


class PersonPurposeOut(ma.Schema):
    granted = fields.Boolean()
    record_id = fields.String(allow_none=True)
    visitor_id = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    gpc = fields.Boolean()


class PersonConsentOut(ma.Schema):
    """A person's consent: the latest decision per purpose across their linked browsers."""

    person_id = fields.String()
    visitors = fields.List(fields.String())
    gpc = fields.Boolean(metadata={"description": "GPC was seen on a linked browser: sale and share are off"})
    purposes = fields.Dict(keys=fields.String(), values=fields.Nested(PersonPurposeOut))
