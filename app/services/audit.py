"""The audit log: every change made through the API or the CLI, and every read of personal data,
written as one `audit_entries` row in the same transaction as the change (REGULATIONS.md section 9,
accountability).

Who acted comes from a context the outer layer sets once, never from the caller of a service:
the API sets it for each request (app/api/audit.py: request id, truncated client address, then the
API key once `api_key_required` knows it), the CLI for each command (app/cli/common.py
CommandGroup), and a periodic duty for its own scope (`with acting_as(SYSTEM)`). It is a
`contextvars` variable, so the services stay free of Flask and HTTP, and each thread or greenlet
sees its own. A service only says what it did: `record(action, target, site_id, details)`.

No personal data in an entry: a person is named by a keyed hash (the site's lookup hash of an
email, external id or visitor id), an address only truncated, and `details` are small and flat.
"""
import contextlib
import csv
import datetime as dt
import getpass
import io
import json
import os
import re
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import sqlalchemy as sa

from app.extensions import db
from app.hashing import canonical_json, sha256_hex
from app.models import AuditEntry, PolicyVersion, Site, utcnow
from app.services import export  # a module: export audits its own reads with this one
from app.services.geo import truncate_ip

# The closed list of actions, one home.
ACTIONS = (
    "site.created", "site.updated", "purpose.changed", "texts.changed", "policy.published",
    "key.created", "key.revoked", "secret.rotated",
    "webhook.created", "webhook.disabled", "webhook.replayed",
    "identity.linked",
    "email_consent.submitted", "email_consent.confirmed", "email_consent.withdrawn",
    "export.read", "ledger.rekeyed",
    "subject.exported", "subject.erased", "retention.purged", "subject_request.created", "subject_request.fulfilled",
    "subject_request.listed",
    # the dashboard's accounts (app/services/users/): a user named by id, never by email
    "user.created", "user.disabled", "user.enabled", "user.password_reset", "user.password_changed",
    "user.totp_enabled", "user.totp_removed", "user.signed_in", "user.sign_in_failed", "user.signed_out",
    "installation.updated",
    "user.role_changed",
    # the banner editor's drafts (app/services/sites/drafts.py)
    "draft.saved", "draft.discarded",
    # the consent log's look-ups of a person by email or external id (app/services/consent_log.py)
    "consent_log.searched",
    # proof packs (app/services/proof/)
    "proof.built", "proof.rebuilt", "proof.exported",
    # compliance scans (app/services/scanner/queue.py)
    "scan.requested", "scan.completed",
)
# What a target may be. The three person kinds hold only the site's keyed hash of the value.
TARGET_KINDS = ("site", "api_key", "webhook", "ledger", "installation", "email", "external_id", "visitor", "person",
                "subject_request", "user", "scan")
HASHED_KINDS = ("email", "external_id", "visitor", "person")
_KEYED_HASH = re.compile(r"[0-9a-f]{64}")

# Actors: an API key (`key:` and its stored prefix), a command (`cli:user@host`), a dashboard user
# (`user:<id>`), a periodic duty, a caller with no key (a visitor's browser, a link in a mail), a
# sign-in for an account that does not exist, or code run with no context set.
SYSTEM = "system"
VISITOR = "visitor"
ANONYMOUS = "anonymous"
UNATTRIBUTED = "unattributed"

MAX_TEXT, MAX_ITEMS = 200, 50  # of a string and a list in `details`
SCALARS = (str, int, float, bool, type(None))
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")


class Target(NamedTuple):
    """What an action was done to: a kind (TARGET_KINDS) and its id (a keyed hash for a person)."""

    kind: str
    id: str | None


@dataclass(frozen=True)
class Context:
    """Who is acting, and from where: set by the API per request and the CLI per command."""

    actor: str
    request_id: str | None = None
    client_ip: str | None = None  # already truncated


_current: ContextVar[Context | None] = ContextVar("opsiq_audit_context", default=None)


def api_key_actor(key_id: str) -> str:
    """The actor of a request made with an API key, by its non-secret id (services/sites/keys.api_key_id)."""
    return f"key:{key_id}"


def user_actor(user_id: int) -> str:
    """The actor of a dashboard user's request (and of a sign-in attempt for their account): by id."""
    return f"user:{user_id}"


def user_id_of(actor: str) -> int | None:
    """The dashboard user's id in a `user:<id>` actor, else None."""
    kind, _, rest = actor.partition(":")
    return int(rest) if kind == "user" and re.fullmatch(r"[0-9]{1,18}", rest) else None


def cli_actor() -> str:
    """The actor of a command: `cli:` with the OS user and the host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}@{socket.gethostname()}"


def new_request_id() -> str:
    """A fresh request id (also given to each command)."""
    return uuid.uuid4().hex


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is well formed (8 to 128 of A-Z a-z 0-9 . _ : -), else a new one."""
    value = (header or "").strip()
    return value if REQUEST_ID.fullmatch(value) else new_request_id()


def begin(actor: str, request_id: str | None = None, client_ip: str | None = None) -> Token:
    """Start acting as `actor` (the address is truncated here); `end(token)` restores what was before."""
    return _current.set(Context(actor, request_id, truncate_ip(client_ip) if client_ip else None))


def end(token: Token) -> None:
    """End what `begin` started."""
    _current.reset(token)


@contextlib.contextmanager
def acting_as(actor: str, request_id: str | None = None, client_ip: str | None = None):
    """Within the block, entries are written as `actor` (a new request id if none is given)."""
    token = begin(actor, request_id or new_request_id(), client_ip)
    try:
        yield
    finally:
        end(token)


def identify(actor: str) -> None:
    """Name the actor of the current request once it is known (the API key), keeping its id and address."""
    ctx = _current.get()
    _current.set(replace(ctx, actor=actor) if ctx else Context(actor, new_request_id()))


def current() -> Context:
    """Who is acting now; `unattributed` when no layer said (a service called from a Python shell)."""
    return _current.get() or Context(UNATTRIBUTED)


def record(action: str, target: Target, site_id: int | None = None,
           details: Mapping[str, Any] | None = None) -> AuditEntry:
    """Add the entry of an action to the caller's session: it commits with the change, or not at all.

    Call it just before the service's commit, after anything that commits on its own (a keyring
    made on first use). A wrong action, target or details is a bug in the caller: ValueError or TypeError.
    """
    if action not in ACTIONS:
        raise ValueError(f"not an audit action: {action!r}")
    check_target(target)
    details = summary(details or {})
    ctx = current()
    # a visitor acting for themselves is the data subject: their address prefix is theirs, which an
    # erasure must be able to remove, and sealed entries are never edited; so it is not kept
    client_ip = None if ctx.actor == VISITOR else ctx.client_ip
    entry = AuditEntry(created_at=utcnow(), site_id=site_id, actor=ctx.actor, action=action,
                       target_kind=target.kind, target_id=target.id, client_ip=client_ip,
                       request_id=ctx.request_id, details=details)
    entry.entry_hash = entry_hash(entry_fields(entry))
    db.session.add(entry)
    return entry


def check_target(target: Target) -> None:
    """A known kind; a person only by a keyed hash."""
    if target.kind not in TARGET_KINDS:
        raise ValueError(f"not an audit target kind: {target.kind!r}")
    if target.kind in HASHED_KINDS and not (isinstance(target.id, str) and _KEYED_HASH.fullmatch(target.id)):
        raise ValueError(f"a {target.kind} target must be its keyed hash")


def summary(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details as they are stored: flat (scalars, or lists of them; else TypeError, a bug in the
    caller), each string cut to MAX_TEXT characters and each list to MAX_ITEMS, since some come from
    a caller's input (a webhook's host) and an entry is a summary, never a copy."""
    out = {}
    for key, value in details.items():
        if isinstance(value, list):
            if not all(isinstance(v, SCALARS) for v in value):
                raise TypeError(f"audit details.{key}: a scalar or a list of scalars")
            out[key] = [_clip(v) for v in value[:MAX_ITEMS]]
        elif isinstance(value, SCALARS):
            out[key] = _clip(value)
        else:
            raise TypeError(f"audit details.{key}: a scalar or a list of scalars")
    return out


def _clip(value: Any) -> Any:
    return value[:MAX_TEXT] if isinstance(value, str) else value


# --- the seam for sealing -------------------------------------------------------------------------

HASHED_FIELDS = ("created_at", "site_id", "actor", "action", "target_kind", "target_id", "client_ip", "request_id",
                 "details")


def entry_fields(entry: AuditEntry | Mapping[str, Any]) -> dict[str, Any]:
    """The fields an entry's hash commits to, from a model or a row read back."""
    get = entry.get if isinstance(entry, Mapping) else (lambda name: getattr(entry, name))
    return {name: get(name) for name in HASHED_FIELDS}


def entry_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 of an entry's canonical JSON (every column but `id` and the hash itself; the time in
    UTC ISO 8601). Sealing chains these in (site_id, id) order."""
    doc = dict(fields)
    when = doc["created_at"]
    doc["created_at"] = when.astimezone(dt.UTC).isoformat()
    return sha256_hex(canonical_json(doc))


# --- what a change to a site's document records ----------------------------------------------------

def record_site_import(site_id: int, site_key: str, before: Mapping[str, Any] | None,
                       after: Mapping[str, Any]) -> None:
    """The entries of `flask sites import` (before/after: the site's exported documents), one per
    kind of change: settings, purposes, texts, each new policy version. A new site's document
    (`before` None) was recorded by create_site as `site.created`."""
    if before is None:
        return
    target = Target("site", site_key)
    settings = sorted(k for k in after if k not in ("purposes", "texts", "policies") and before.get(k) != after[k])
    if settings:
        record("site.updated", target, site_id, {"fields": settings, "imported": True})
    old = {p["slug"]: p for p in before.get("purposes") or []}
    new = {p["slug"]: p for p in after.get("purposes") or []}
    changed = sorted(s for s in new.keys() & old.keys() if new[s] != old[s])
    if old != new:
        record("purpose.changed", target, site_id, {"added": sorted(new.keys() - old.keys()),
                                                    "removed": sorted(old.keys() - new.keys()), "changed": changed,
                                                    "order": list(new) != list(old)})
    if (before.get("texts") or {}) != (after.get("texts") or {}):
        b, a = before.get("texts") or {}, after.get("texts") or {}
        record("texts.changed", target, site_id, {"languages": sorted(k for k in a.keys() | b.keys()
                                                                    if a.get(k) != b.get(k))})
    known = {p["version"] for p in before.get("policies") or []}
    # from the table: versions just added are not yet in the site's loaded `policies`
    published = db.session.execute(sa.select(PolicyVersion.version, PolicyVersion.effective_at,
                                             PolicyVersion.reconsent).where(
        PolicyVersion.site_id == site_id).order_by(PolicyVersion.id)).all()
    for version, effective_at, reconsent in published:
        if version not in known:
            record("policy.published", target, site_id, {"version": version, "effective_at": effective_at.isoformat(),
                                                         "asks_again": bool(reconsent)})


# --- reading the log ------------------------------------------------------------------------------

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000
CSV_CHUNK = 500  # rows per piece of a CSV answer
CSV_COLUMNS = ("id", "time", "site_key", "actor", "action", "target_kind", "target_id", "client_ip", "request_id",
               "details", "entry_hash")


def list_entries(site_id: int | None = None, all_sites: bool = False, after: int = 0,
                 start: dt.datetime | None = None, end: dt.datetime | None = None, action: str | None = None,
                 limit: int = DEFAULT_LIMIT, actor: str | None = None, before: int | None = None,
                 newest_first: bool = False) -> tuple[list[dict[str, Any]], bool]:
    """(a page of entries as plain dicts, oldest first, or newest first with `newest_first`;
    whether another page follows).

    One site's entries, or with `all_sites` every entry, installation-wide ones too (the CLI).
    Paged by entry id: those after `after` (oldest first) or before `before` (newest first)."""
    t = AuditEntry.__table__
    cond = [t.c.id > after]
    if before is not None:
        cond.append(t.c.id < before)
    if not all_sites:
        cond.append(t.c.site_id == site_id)
    if start is not None:
        cond.append(t.c.created_at >= start)
    if end is not None:
        cond.append(t.c.created_at < end)
    if action is not None:
        cond.append(t.c.action == action)
    if actor is not None:
        cond.append(t.c.actor == actor)
    rows = db.session.execute(
        sa.select(t, Site.site_key).outerjoin(Site, Site.id == t.c.site_id).where(*cond)
        .order_by(t.c.id.desc() if newest_first else t.c.id).limit(limit + 1)
    ).mappings().all()
    db.session.rollback()  # end the read transaction
    return [entry_doc(r) for r in rows[:limit]], len(rows) > limit


def iter_entries(site_id: int, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every entry of the site that list_entries' `filters` (start, end, action, actor) select,
    oldest first, a page of MAX_LIMIT at a time (so a long log is never one query's worth of memory)."""
    after = 0
    while True:
        page, more = list_entries(site_id, after=after, limit=MAX_LIMIT, **filters)
        yield from page
        if not more:
            return
        after = page[-1]["id"]


def entry_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as the API and the CLI show it."""
    when = row["created_at"]
    if when.tzinfo is None:  # SQLite through Core, without the column type's conversion
        when = when.replace(tzinfo=dt.UTC)
    return {"id": row["id"], "time": when, "site_key": row["site_key"], "actor": row["actor"],
            "action": row["action"], "target": {"kind": row["target_kind"], "id": row["target_id"]},
            "client_ip": row["client_ip"], "request_id": row["request_id"], "details": row["details"] or {},
            "entry_hash": row["entry_hash"]}


def plain(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An entry with its time as ISO 8601 (for JSON written directly)."""
    return {**doc, "time": doc["time"].isoformat()}


def render_csv(docs: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """CSV text of entries (details as compact JSON), every cell that would start a formula
    neutralised as the ledger export does (services/export.csv_cell)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for n, d in enumerate(docs, 1):
        writer.writerow([export.csv_cell(v) for v in (
            d["id"], d["time"].isoformat(), d["site_key"], d["actor"], d["action"], d["target"]["kind"],
            d["target"]["id"], d["client_ip"], d["request_id"], json.dumps(d["details"], separators=(",", ":"),
                                                                           sort_keys=True), d["entry_hash"])])
        if n % CSV_CHUNK == 0:  # written as it is read: a long log streams
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
