"""A visitor's own browser: what proves that a request speaks for a visitor id.

A visitor id is not a secret (receipts, analytics hits and identity links carry it). The widget
keeps a random secret beside it and the ledger binds its hash on the visitor's first write
(app/ledger/rules.py check_visitor_secret, which the write path applies in the same statement
that reads the visitor's previous record). Everything else a browser may do for its visitor
alone (link an identity, and later download or erase its data) is checked here, by the same rule.
"""
from app.extensions import ledger
from app.ledger.rules import check_visitor_secret, secret_hash


def require_visitor_secret(site_id: int, visitor_id: str, secret: str | None) -> None:
    """Forbidden unless `secret` is the one the visitor's records are bound to (a visitor the site
    has no record of yet, or one from before secrets, is bound to none)."""
    latest = ledger.latest(site_id, visitor_id)
    check_visitor_secret(latest.secret_hash if latest else None, secret_hash(secret) if secret else None)
