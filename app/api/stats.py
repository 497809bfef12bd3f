"""Server API for the site's statistics: the overview of its decisions over a period, with the
site's API key (a key sees its own site). Figures come from the counts `flask worker` rolls up
(app/services/stats/), never from a scan of the ledger, so a period answers as fast at ten
million records as at ten."""
import time

from flask import Response, g

from app.api.auth import SECURITY, api_key_required
from app.api.collectors import format_from_accept, now, page_headers
from app.api.parsing import ApiBlueprint
from app.models import utcnow
from app.schemas.stats import StatsArgs, StatsOut
from app.services.stats import overview, period, tables

blp = ApiBlueprint("stats", __name__, url_prefix="/api/v1", description="The site's consent statistics")

OVERVIEW = ("The period's figures: JSON, or CSV (a row for the totals, each day, and each country, region, policy "
            "version and regime) with `Accept: text/csv` / `format=csv`")


@blp.get("/stats")
@api_key_required
@blp.doc(security=SECURITY)
@blp.arguments(StatsArgs, location="query")
@blp.response(200, StatsOut, description=OVERVIEW)
@blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True, description=OVERVIEW)
def get_stats(args):
    """Decisions per day, the share of each method and of GPC signals, and the opt-in rate of each
    purpose, in total and per country, region, policy version and regime, over a period of UTC days."""
    started = time.perf_counter()
    fmt = args["format"] or format_from_accept()
    span = period.period(args["from_"], args["to"], (now() or utcnow()).date())
    report = overview.site_overview(g.site.id, span, country=args["country"], region=args["region"])
    headers = page_headers(None)
    # the server's own time for the figures, for callers and bench/overview.py
    headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    if fmt == "csv":
        headers["Content-Disposition"] = 'attachment; filename="stats.csv"'
        return Response(tables.render_csv(report), 200, headers, mimetype="text/csv")
    return report, 200, headers
