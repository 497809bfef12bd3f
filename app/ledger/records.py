"""What travels along the write and read paths of the ledger, and the contract of a repository.

A `Draft` is what a request and its site alone decide; the ledger finishes it into a `Record`
(every column) once it has read the visitor's previous record. Checks read a `LatestRecord`,
the columns of a visitor's latest record that decide an answer.
"""
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from app.errors import Forbidden


@dataclass(frozen=True, slots=True)
class DraftColumns:
    """The columns of a record that its request and site alone decide: what a Draft and a Record share."""

    record_id: str
    site_id: int
    visitor_id: str
    client_record_id: str | None
    method: str
    decisions: dict[str, bool]
    config_hash: str
    policy_version: str | None
    policy_url: str | None
    language: str
    regime: str
    country: str | None
    region: str | None
    geoip_build: dt.date | None
    ip_truncated: str | None
    user_agent: str | None
    page_url: str | None
    gpc: bool
    source: str
    # rules.secret_hash of the visitor's secret: the first write binds it, later writes must match
    # (rules.check_visitor_secret). Not evidence of the decision, so outside the record hash.
    secret_hash: str | None
    # SHA-256 of the widget build that collected the decision (app/services/widget_builds.py), or None
    widget_build: str | None


_DRAFT_COLUMNS = tuple(f.name for f in fields(DraftColumns))


@dataclass(frozen=True, slots=True)
class Draft(DraftColumns):
    """A new record before it meets the ledger: every column but those the ledger decides (event,
    created_at, expires_at, prev_record_id, the personal salt and digest, record_hash), and what it
    needs to decide them."""

    validity: dt.timedelta  # how long the decision holds: expires_at is created_at + validity
    necessary: frozenset[str]  # the site's necessary purposes, which never count as a grant

    def columns(self, created_at: dt.datetime) -> dict[str, Any]:
        """The record's columns that do not depend on the ledger (rules.BASE_COLUMNS), dated `created_at`."""
        out = {name: getattr(self, name) for name in _DRAFT_COLUMNS}
        out["created_at"] = created_at
        out["expires_at"] = created_at + self.validity
        return out


@dataclass(frozen=True, slots=True)
class Record(DraftColumns):
    """A record as the ledger holds it: every column but the row id and erased_at (the write and
    read paths never meet an erased record: erasure leaves it no visitor or client_record_id)."""

    event: str
    created_at: dt.datetime  # aware, UTC
    expires_at: dt.datetime
    prev_record_id: str | None
    # rules.personal_digest's salt and digest (None on records stored in the older forms)
    personal_salt: str | None
    personal_digest: str | None
    record_hash: str

    def columns(self) -> dict[str, Any]:
        """{column: value} of every column this record holds."""
        return {name: getattr(self, name) for name in RECORD_COLUMNS}


RECORD_COLUMNS = tuple(f.name for f in fields(Record))  # the order of Record's fields, and of the statements'


@dataclass(frozen=True, slots=True)
class LatestRecord:
    """A visitor's latest record, the columns that decide a check (and that the next record chains to)."""

    visitor_id: str
    record_id: str
    decisions: dict[str, bool]
    created_at: dt.datetime  # aware, UTC
    expires_at: dt.datetime
    regime: str
    policy_version: str | None
    gpc: bool
    secret_hash: str | None  # what the visitor's next write must prove (rules.check_visitor_secret)


LATEST_COLUMNS = tuple(f.name for f in fields(LatestRecord))


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of writing one draft: the record, and whether this write created it (False: its
    client_record_id had already made `record`, which is the first one)."""

    record: Record
    created: bool


class Repository(Protocol):
    """Where records are written and read. Every implementation passes tests/ledger/test_repository_contract.py."""

    def write(self, drafts: Sequence[Draft]) -> list["Written | Forbidden"]:
        """Write drafts in their order, each chained to its visitor's latest record (an earlier draft
        of the same batch included); committed when this returns. A client_record_id the site already
        has writes nothing and answers with the record it made. A draft whose secret is not the one
        its visitor is bound to (rules.check_visitor_secret) writes nothing: its place holds the
        Forbidden error, for its caller alone."""

    def find(self, site_id: int, client_record_id: str) -> Record | None:
        """The record a client_record_id made for a site, or None."""

    def latest(self, site_id: int, visitor_id: str) -> LatestRecord | None:
        """The visitor's latest record, or None if the site never recorded them."""

    def latest_many(self, site_id: int, visitor_ids: Sequence[str]) -> dict[str, LatestRecord]:
        """{visitor_id: latest record} for those of `visitor_ids` the site has recorded."""
