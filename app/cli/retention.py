"""`flask retention`: purge what is kept past its retention (app/services/retention.py)."""
import sys

import click
from flask import current_app

from app.cli.common import CommandGroup, sites_or_one
from app.errors import Conflict
from app.services import retention

retention_cli = CommandGroup("retention", help="Purge consent records, deliveries, confirmations and audit entries "
                                               "kept past their retention.")


def _summary(site_key, counts, dry_run):
    verb = "would purge" if dry_run else "purged"
    return (f"{site_key}: {verb} {counts.consent_records} consent record(s) ({counts.consent_kept} kept in force, "
            f"{counts.consent_unsealed} not yet sealed: left for later), {counts.webhook_deliveries} webhook "
            f"deliveries, {counts.webhook_events} webhook events, {counts.email_pending} expired email "
            f"confirmation(s), {counts.audit_entries} audit entries")


@retention_cli.command("purge")
@click.argument("site_key", required=False)
@click.option("--dry-run", is_flag=True, help="Only count what would be purged; change nothing.")
def purge_command(site_key, dry_run):
    """Purge every site (or one) of what it keeps past its retention: consent records older than its
    retention_days (each visitor's decision in force stays), webhook deliveries delivered over 30 days
    ago, expired email confirmations, audit entries older than AUDIT_RETENTION_DAYS."""
    settings = retention.Settings.from_config(current_app.config)
    terminal = sys.stdout.isatty()
    busy = False
    for i, site in enumerate(sites_or_one(site_key)):
        installation = site_key is None and i == 0  # installation-wide audit entries go with a run over every site
        try:
            if terminal and not dry_run:
                with click.progressbar(length=retention.consent_candidates(site), label=site.site_key) as bar:
                    counts = retention.purge_site(site, settings, installation=installation, progress=bar.update)
            else:
                counts = retention.purge_site(site, settings, dry_run=dry_run, installation=installation)
        except Conflict as e:  # another purge (the worker's, say) has the site: the others still go
            click.echo(f"{site.site_key}: skipped: {e.message}", err=True)
            busy = True
            continue
        click.echo(_summary(site.site_key, counts, dry_run))
    if busy:
        sys.exit(1)
