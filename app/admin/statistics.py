"""The overview's figures in the dashboard: decisions per day, the share of each choice and of GPC
signals, the opt-in rate per purpose, per country, region and policy version, over a chosen period.

The figures are the server API's (GET /api/v1/stats): the same query arguments, checked by the
same schema, answered by the same service from the rollups (app/services/stats/), so the page and
the API agree for the same records. Charts are SVG drawn here, with no script (the page's policy
allows none inline); each has its numbers as a table beside it and as CSV.
"""
from flask import Response, request
from marshmallow import ValidationError

from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import OVERVIEW_CONTEXT, OVERVIEW_SECTIONS
from app.api.collectors import now
from app.errors import Invalid
from app.ledger.rules import METHODS
from app.models import utcnow
from app.schemas.stats import StatsArgs
from app.services.stats import overview, period, tables
from app.services.users import access

OVERVIEW_SECTIONS.insert(0, "admin/site/_stats.html")
METHOD_LABELS = {"accept_all": "Accept all", "reject_all": "Reject all", "custom": "Custom", "dismiss": "Dismissed",
                 "gpc": "GPC", "api": "Through the API"}
BREAKDOWN_TITLES = (("countries", "Country"), ("regions", "Region"), ("policy_versions", "Policy version"))


def _report(site, args):
    """(the overview, the arguments as given, errors) for the query string `args`."""
    given = {k: v for k, v in args.items() if k in ("from", "to", "country", "region") and v}
    try:
        parsed = StatsArgs().load(given)
        span = period.period(parsed["from_"], parsed["to"], (now() or utcnow()).date())
        return overview.site_overview(site.id, span, country=parsed["country"], region=parsed["region"]), given, {}
    except ValidationError as e:
        return None, given, e.messages
    except Invalid as e:
        return None, given, e.errors or {"period": [e.message]}


def overview_context(site, args) -> dict:
    """What the overview's statistics section shows, for the site and the request's query string."""
    report, given, errors = _report(site, args)
    return {"stats": report, "stats_args": given, "stats_errors": errors, "method_labels": METHOD_LABELS,
            "methods": METHODS, "breakdown_titles": BREAKDOWN_TITLES}


OVERVIEW_CONTEXT.append(overview_context)


@bp.get("/sites/<site_key>/stats.csv")
def stats_csv(site_key):
    """The overview's figures as CSV: the API's (GET /api/v1/stats?format=csv) for the same period."""
    site = access.site_for(signed_in_user(), site_key, "site.read")
    report, _, errors = _report(site, request.args)
    if report is None:
        raise Invalid("the period is not one the overview can show", errors=errors)
    return Response(tables.render_csv(report), 200, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{site.site_key}-stats.csv"'})
