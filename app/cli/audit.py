"""`flask audit`: read the audit log."""
import datetime as dt
import json

import click

from app.cli.common import CommandGroup, fail, site_or_fail
from app.services import audit

audit_cli = CommandGroup("audit", help="Who did what: the audit log.")


@audit_cli.command("list")
@click.argument("site_key", required=False)
@click.option("--action", type=click.Choice(audit.ACTIONS), default=None)
@click.option("--from", "start", default=None, help="ISO 8601 time; entries at or after it (UTC if no zone).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of entries.")
def list_audit_command(site_key, action, start, as_json):
    """Print the audit log, oldest first: one site's, or every entry (installation-wide ones too)."""
    when = None
    if start:
        try:
            when = dt.datetime.fromisoformat(start)
        except ValueError:
            fail(f"--from is not an ISO 8601 time: {start}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    site_id = site_or_fail(site_key).id if site_key else None
    entries, after = [], 0
    while True:  # page through, so a long log is never one query's worth of memory at once
        page, more = audit.list_entries(site_id, all_sites=site_id is None, after=after, start=when, action=action)
        if as_json:
            entries.extend(audit.plain(e) for e in page)
        else:
            for e in page:
                click.echo("\t".join((e["time"].isoformat(), e["site_key"] or "-", e["actor"], e["action"],
                                      f"{e['target']['kind']}:{e['target']['id'] or ''}",
                                      json.dumps(e["details"], separators=(",", ":"), sort_keys=True))))
        if not more:
            break
        after = page[-1]["id"]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
