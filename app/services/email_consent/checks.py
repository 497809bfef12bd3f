"""May this address be emailed? Default deny, with the records behind the answer; one query for a batch."""
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.errors import Invalid
from app.extensions import db
from app.models import EmailConsentState, EmailSuppression
from app.services.keyring import keyring

if TYPE_CHECKING:
    from sqlalchemy.orm import QueryableAttribute

    from app.services.sites.snapshot import SiteSnapshot

from app.services.email_consent.records import PURPOSE

BATCH_LIMIT = 10_000
_DENY = {"purpose": PURPOSE, "allowed": False, "basis": "none", "submission_record_id": None,
         "confirmation_record_id": None, "withdrawal_record_id": None, "given_at": None, "confirmed_at": None,
         "withdrawn_at": None, "expires_at": None}


def _answer(email: str, state: tuple[Any, ...] | None, suppressed_at: dt.datetime | str | None) -> dict[str, Any]:
    """allowed / basis / proof for one address from its state row and suppression time (either may be None).

    Express consent carries no expiry of its own (`expires_at` null); an unsubscribe ends it.
    """
    if state is None:
        return dict(_DENY, email=email, withdrawn_at=suppressed_at)
    status, basis, sub, conf, wd, given, confirmed, withdrawn, granted_at = state
    allowed = status == "confirmed" and not (
        # an unsubscribe wins over any older opt-in, even after the rest was erased
        suppressed_at is not None and granted_at is not None and suppressed_at >= granted_at)
    return {"email": email, "purpose": PURPOSE, "allowed": allowed, "basis": basis if allowed else "none",
            "submission_record_id": sub, "confirmation_record_id": conf, "withdrawal_record_id": wd,
            "given_at": given, "confirmed_at": confirmed, "withdrawn_at": withdrawn or suppressed_at,
            "expires_at": None}


_AWARE = sa.DateTime(timezone=True)


def _state_columns() -> tuple[Any, ...]:
    """What the check reads. PostgreSQL returns aware times itself: skip the per-value TypeDecorator there."""
    times = (EmailConsentState.given_at, EmailConsentState.confirmed_at, EmailConsentState.withdrawn_at)
    if db.engine.dialect.name == "postgresql":
        times = tuple(sa.type_coerce(t, _AWARE) for t in times)
    return (EmailConsentState.email_hash, EmailConsentState.status, EmailConsentState.basis,
            EmailConsentState.submission_record_id, EmailConsentState.confirmation_record_id,
            EmailConsentState.withdrawal_record_id, *times)


def _among(column: "QueryableAttribute[str]", values: list[str]) -> sa.ColumnElement[bool]:
    """`column` is one of `values`, sent as one bound parameter (10,000 separate ones cost more
    to compile and send than the query itself): an array on PostgreSQL, JSON on SQLite."""
    if db.engine.dialect.name == "postgresql":  # keyed hashes are hex: a comma-joined string splits safely
        return column == sa.any_(sa.func.string_to_array(sa.bindparam("among", ",".join(values), type_=sa.Text), ","))
    return column.in_(sa.select(sa.column("value")).select_from(
        sa.func.json_each(sa.bindparam("among", json.dumps(values), type_=sa.String))))


def check_emails(snap: "SiteSnapshot", addresses: Sequence[str], iso: bool = False) -> list[dict[str, Any]]:
    """Answers for many addresses, in the order given (default deny). Always two queries.

    With `iso`, times come as ISO 8601 strings (ready for a JSON response); the comparison that
    decides is done on the datetimes first.
    """
    if len(addresses) > BATCH_LIMIT:
        raise Invalid(f"At most {BATCH_LIMIT} addresses per batch.",
                      errors={"emails": [f"at most {BATCH_LIMIT}"]})
    hashes = keyring(snap.id).email_hashes(addresses)
    unique = list(dict.fromkeys(hashes))
    rows = db.session.execute(sa.select(*_state_columns()).where(
        EmailConsentState.site_id == snap.id, _among(EmailConsentState.email_hash, unique))).all()
    suppressed = dict(db.session.execute(sa.select(EmailSuppression.email_hash, EmailSuppression.suppressed_at).where(
        EmailSuppression.site_id == snap.id, _among(EmailSuppression.email_hash, unique))).all())
    db.session.rollback()  # end the read transaction
    states = {}
    for h, status, basis, sub, conf, wd, given, confirmed, withdrawn in rows:
        granted_at = confirmed if basis == "double_opt_in" else given
        sup = suppressed.get(h)
        if status == "confirmed" and sup is not None and granted_at is not None and sup >= granted_at:
            status = "suppressed"
        if iso:
            given, confirmed, withdrawn = (t.isoformat() if t else None for t in (given, confirmed, withdrawn))
        states[h] = (status, basis, sub, conf, wd, given, confirmed, withdrawn, None)
    if iso:
        suppressed = {h: t.isoformat() for h, t in suppressed.items()}
    return [_answer(a, states.get(h), suppressed.get(h)) for a, h in zip(addresses, hashes)]


def check_email(snap: "SiteSnapshot", address: str) -> dict[str, Any]:
    """May this address be sent marketing email? Default deny; with the records that justify it."""
    return check_emails(snap, [address])[0]


def jsonable(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An answer with its times as ISO 8601 strings (for views that write JSON directly)."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in answer.items()}


def check_mixed(snap: "SiteSnapshot", items: Sequence[Mapping[str, Any]],
                check_visitors: Callable[[list[Mapping[str, Any]]], Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """A batch mixing {"email", ...} items with visitor items, answered in order.

    `check_visitors(items)` answers the visitor items (the collectors' service); emails are
    answered here, with a constant number of queries.
    """
    emails = check_emails(snap, [it["email"] for it in items if "email" in it], iso=True)
    rest = [it for it in items if "email" not in it]
    if not rest:
        return emails
    e, v = iter(emails), iter(check_visitors(rest))
    return [next(e) if "email" in it else next(v) for it in items]
