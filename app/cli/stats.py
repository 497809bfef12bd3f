"""`flask stats`: roll up the ledger's decisions into the overview's counts, and check them against it."""
import datetime as dt
import sys

import click

from app.cli.common import CommandGroup, fail, site_or_fail, sites_or_one
from app.extensions import ledger
from app.models import utcnow
from app.services.stats import overview, period, rollup, scan

stats_cli = CommandGroup("stats", help="Consent statistics: the counts behind the owner's overview.")


def _as_of(site_id):
    mark = rollup.mark_of(site_id)
    return mark.covers_until.isoformat() if mark and mark.covers_until else "never"


@stats_cli.command("rollup")
@click.argument("site_key", required=False)
@click.option("--lag", default=None, type=float,
              help="Leave records younger than this many seconds (default: LEDGER_SEAL_LAG).")
@click.option("--batch", default=rollup.BATCH, type=click.IntRange(1), help="Records a transaction.")
def rollup_command(site_key, lag, batch):
    """Count the decisions recorded since the last rollup (all sites, or one), in transactions of
    50,000 records; `flask worker` does this every OPSIQ_WORKER_ROLLUP_SECONDS."""
    lag = ledger.state.seal_lag if lag is None else lag
    for site_id, key in [(s.id, s.site_key) for s in sites_or_one(site_key)]:  # rollup_site commits
        counted = rollup.rollup_site(site_id, lag, batch=batch)
        click.echo(f"{key}: rolled up {counted} record(s); complete up to {_as_of(site_id)}")


def _date(value, name):
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        fail(f"{name} is not a date (YYYY-MM-DD): {value}")


@stats_cli.command("check")
@click.argument("site_key")
@click.option("--from", "start", default=None, help="First UTC day (YYYY-MM-DD); default: the first one counted.")
@click.option("--to", "end", default=None, help="Last UTC day (YYYY-MM-DD); default: today.")
def check_command(site_key, start, end):
    """Compare the overview the rollups give with a scan of the ledger's records up to the rollup
    mark, period by period; print each difference and exit 1 if there is one."""
    site = site_or_fail(site_key)
    today = utcnow().date()
    first = _date(start, "--from") or overview.first_day(site.id) or today
    last = _date(end, "--to") or today
    if first > last:
        fail(f"--from ({first}) is after --to ({last})")
    found, decisions = [], 0
    while True:  # in periods of MAX_DAYS, as the API reads them
        span = period.Period(first, min(last, period.add_days(first, period.MAX_DAYS - 1) or last))
        rolled = overview.site_overview(site.id, span)
        found += [f"{span.start}..{span.end}: {d}" for d in scan.differences(rolled, scan.scan_overview(site.id, span))]
        decisions += rolled.totals.decisions
        if span.end >= last:
            break
        first = span.end + dt.timedelta(days=1)
    purged = scan.purged_records(site.id)
    for line in found:
        click.echo(line)
    if purged:
        click.echo(f"{purged} record(s) were purged by retention: the rollups still count them, the ledger no longer "
                   "holds them, so their days differ.")
    state = "DIFFERENT" if found else "OK"
    click.echo(f"{site.site_key}: {state} ({decisions} decision(s) rolled up, complete up to {_as_of(site.id)})")
    sys.exit(1 if found else 0)
