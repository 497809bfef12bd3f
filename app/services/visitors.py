"""A visitor's own browser: what proves that a request speaks for a visitor id.

A visitor id is not a secret (receipts, analytics hits and identity links carry it). The widget
keeps a random secret beside it and the ledger binds its hash on the visitor's first write
(app/ledger/rules.py check_visitor_secret, which the write path applies in the same statement
that reads the visitor's previous record). Everything else a browser may do for its visitor
alone (link an identity, and later download or erase its data) is checked here, by the same rule.
"""
from app.errors import Forbidden
from app.extensions import ledger
from app.ledger.rules import check_visitor_secret, secret_hash

NOT_BOUND = "This browser's records are bound to no secret yet: nothing proves the request is its own."


def require_visitor_secret(site_id: int, visitor_id: str, secret: str | None) -> None:
    """Forbidden unless `secret` is the one the visitor's records are bound to (a visitor the site
    has no record of yet, or one from before secrets, is bound to none)."""
    latest = ledger.latest(site_id, visitor_id)
    check_visitor_secret(latest.secret_hash if latest else None, secret_hash(secret) if secret else None)


def require_bound_visitor_secret(site_id: int, visitor_id: str, secret: str) -> None:
    """For a read of a visitor's data (its export): Forbidden unless the visitor's records are bound
    to `secret`. Trust on first use suits a write; a visitor bound to no secret yet (never recorded,
    or recorded only before secrets) has nothing a secret can prove, so nothing of it is read."""
    latest = ledger.latest(site_id, visitor_id)
    if latest is None or latest.secret_hash is None:
        raise Forbidden(NOT_BOUND)
    check_visitor_secret(latest.secret_hash, secret_hash(secret))
