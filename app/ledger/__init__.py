"""The consent ledger: one append-only, hash-chained record per decision, and the seals over them.

`rules` holds what a record is (its decisions, event and hashes) with no database; the
repositories write and read records; `seals` seals and verifies them.
The `Ledger` extension (`app.extensions.ledger`) holds each app's repository and group committers.
"""
from app.ledger.extension import Ledger  # noqa: F401
