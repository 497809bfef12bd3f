"""Consent statistics: the owner's overview of a site's decisions over a period.

- `rollup`: counts kept apart from the write path, rolled up from the ledger by `flask worker`
  (`rollup_site`, `rollup_sites`).
- `overview`: a period's figures read from those counts (`site_overview`), fast at any ledger size.
- `scan`: the same figures read from the ledger itself (`scan_overview`), the reference both are
  tested against; `differences` names where two overviews differ.
- `figures`: what each figure means (the one home of the definitions) and the Overview it fills.
- `period`: the UTC days a period covers (`period`, at most MAX_DAYS).
- `tables`: an overview as CSV.

The counts are anonymous statistics of the decisions recorded: erasure does not change them
(it keeps a record's decision fields) and a retention purge does not remove them, so an overview
counts the decisions recorded, including those whose records were purged since.
"""
