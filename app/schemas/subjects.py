"""Data-subject requests: who a request is about (exactly one selector), the export document, the register."""
from typing import ClassVar

import marshmallow as ma
from marshmallow import fields, validate

from app.schemas.common import EMAIL, EMAIL_MAX, SITE_KEY_MAX, VISITOR_ID, VISITOR_SECRET, StrictSchema, given
from app.services.subjects.requests import KINDS, STATUSES
from app.services.subjects.selectors import SELECTORS


class SubjectSelectorIn(StrictSchema):
    """Whom a request is about: exactly one of visitor_id, email, external_id, person_id."""

    class Meta(StrictSchema.Meta):
        openapi: ClassVar[dict] = {"oneOf": [given(f) for f in SELECTORS]}  # _exactly_one

    visitor_id = fields.String(load_default=None, validate=VISITOR_ID, metadata={
        "description": "One browser: its records and identity links"})
    email = EMAIL(load_default=None, validate=validate.Length(max=EMAIL_MAX), metadata={
        "description": "A person: every linked visitor's records, their email consent and identity"})
    external_id = fields.String(load_default=None, validate=validate.Length(1, 200))
    person_id = fields.String(load_default=None, validate=validate.Length(1, 36))

    @ma.validates_schema
    def _exactly_one(self, data, **kwargs):
        if sum(1 for k in SELECTORS if data.get(k)) != 1:
            raise ma.ValidationError(f"give exactly one of {', '.join(SELECTORS)}", "visitor_id")


class SubjectExportIn(SubjectSelectorIn):
    """An export, optionally fulfilling a request of the register."""

    request_id = fields.String(load_default=None, validate=validate.Length(1, 36), metadata={
        "description": "The register's request this export answers: marked fulfilled"})


class BrowserExportIn(StrictSchema):
    """A browser's own export: its visitor, proved by the secret its consent writes carry."""

    site_key = fields.String(required=True, validate=validate.Length(1, SITE_KEY_MAX))
    visitor_id = fields.String(required=True, validate=VISITOR_ID)
    visitor_secret = fields.String(required=True, validate=VISITOR_SECRET, load_only=True, metadata={
        "description": "The secret the browser's consent writes carry: without it nothing is exported (403)"})


class SubjectEraseIn(SubjectSelectorIn):
    """Whom to erase (exactly one selector), and the register's erasure request this fulfils."""

    request_id = fields.String(load_default=None, validate=validate.Length(1, 36), metadata={
        "description": "The register's erasure request about this subject, marked fulfilled"})


class SubjectErasedOut(ma.Schema):
    """What an erasure removed, per kind (a subject of whom nothing was held: all zero)."""

    consent_records = fields.Integer(metadata={"description": "Records whose personal fields were erased; the "
                                               "decision, time, regime and policy stay, naming no one"})
    identities = fields.Integer()
    identity_links = fields.Integer()
    email_consent_records = fields.Integer()
    webhook_events = fields.Integer(metadata={"description": "Outbox events naming the subject, sent or not"})
    subject_requests = fields.Integer(metadata={"description": "The subject's requests, kept without who asked"})


class ControllerOut(ma.Schema):
    """Who the controller is (the site document's `controller`); `missing` names the fields not given."""

    site = fields.String()
    organisation = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    dpo = fields.Dict(allow_none=True, metadata={"description": "The data-protection officer: name, address, email, phone"})
    missing = fields.List(fields.String())


class SubjectExportOut(ma.Schema):
    """Everything the site holds of the subject, written as it is read (streamed)."""

    generated_at = fields.String(metadata={"format": "date-time"})
    controller = fields.Nested(ControllerOut)
    subject = fields.Dict(metadata={"description": "The selector used and the visitor ids whose records follow"})
    identities = fields.List(fields.Dict(), metadata={
        "description": "The person (email and external id decrypted) and their visitors' links"})
    email_consents = fields.List(fields.Dict(), metadata={
        "description": "Submissions, confirmations and withdrawals, with the wording shown"})
    email_suppressed = fields.Boolean(metadata={"description": "The address is kept from being mailed again"})
    texts_shown = fields.Dict(metadata={"description": "Per configuration hash, the texts and purposes shown"})
    consent_records = fields.List(fields.Dict(), metadata={
        "description": "Every record of the subject's visitors, oldest first, each with its signed `receipt`"})


class SubjectRequestIn(SubjectSelectorIn):
    """A request received from a data subject, for the register."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    received_at = fields.AwareDateTime(load_default=None, metadata={
        "description": "When the request was received (default now); it is due 30 days later"})


class SubjectRequestOut(ma.Schema):
    """A request of the register."""

    request_id = fields.String()
    kind = fields.String()
    selector = fields.Dict(metadata={"description": "The one selector the request named, as given"})
    received_at = fields.String(metadata={"format": "date-time"})
    due_at = fields.String(metadata={"format": "date-time"})
    status = fields.String(metadata={"description": "open or fulfilled"})
    fulfilled_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    overdue = fields.Boolean(metadata={"description": "Open and past its due date"})


class SubjectRequestArgs(StrictSchema):
    """Which requests to list."""

    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class SubjectRequestListOut(ma.Schema):
    """The register, oldest due first."""

    requests = fields.List(fields.Nested(SubjectRequestOut))
