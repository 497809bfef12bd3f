"""An overview as one table: CSV, a row per group (the totals, each day, each breakdown's groups)."""
import csv
import io
from collections.abc import Iterator

from app.ledger.rules import METHODS
from app.services.export import csv_cell
from app.services.stats.figures import BREAKDOWNS, Figures, Overview


def render_csv(overview: Overview) -> Iterator[str]:
    """CSV text: breakdown, key, decisions, a count per method, gpc_signal (decisions with a GPC
    signal), then per purpose (by slug) its decided, granted and opt-in rate. Rows: `total`, each
    `day` (no purposes: they are counted over the period only), then each country, region, policy
    version and regime; a group without a value (no country known) has an empty key. Cells that
    would start a formula are neutralised."""
    slugs = [p.purpose for p in overview.totals.purposes]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["breakdown", "key", "decisions", *METHODS, "gpc_signal",
                     *(f"{slug}_{what}" for slug in slugs for what in ("decided", "granted", "opt_in_rate"))])

    def group_row(kind: str, figures: Figures) -> list:
        rates = {p.purpose: p for p in figures.purposes}
        cells = []
        for slug in slugs:
            p = rates.get(slug)
            cells += [p.decided, p.granted, "" if p.opt_in_rate is None else p.opt_in_rate] if p else [0, 0, ""]
        return [kind, figures.key or "", figures.decisions, *(figures.methods[m] for m in METHODS), figures.gpc, *cells]

    writer.writerow(group_row("total", overview.totals))
    for day in overview.days:
        writer.writerow(["day", day.day.isoformat(), day.decisions, *(day.methods[m] for m in METHODS), day.gpc])
    for name in BREAKDOWNS:
        for figures in getattr(overview, name):
            writer.writerow([csv_cell(v) for v in group_row(BREAKDOWNS[name], figures)])
    yield out.getvalue()
