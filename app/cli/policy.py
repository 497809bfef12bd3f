"""`flask policy`: publish policy versions."""
import datetime as dt

import click

from app.cli.common import CommandGroup, fail, site_or_fail
from app.services.sites.policies import publish_policy

policy_cli = CommandGroup("policy", help="Publish policy versions.")


@policy_cli.command("publish")
@click.argument("site_key")
@click.option("--version", "version", required=True)
@click.option("--url", required=True)
@click.option("--effective-at", default=None, help="ISO 8601 time; default now.")
@click.option("--ask-again/--correction", "ask_again", default=True,
              help="Ask every visitor again (default), or publish a correction under which earlier choices still count.")
def publish_policy_command(site_key, version, url, effective_at, ask_again):
    """Publish a policy version; unless it is a correction, decisions under older versions become
    stale once it is effective."""
    site = site_or_fail(site_key)
    when = None
    if effective_at:
        try:
            when = dt.datetime.fromisoformat(effective_at)
        except ValueError:
            fail(f"--effective-at is not an ISO 8601 time: {effective_at}")
    pv = publish_policy(site, version, url, when, reconsent=ask_again)
    click.echo(f"published {pv.version} effective {pv.effective_at.isoformat()} content {pv.content_hash[:12]}"
               + ("" if ask_again else " (a correction: earlier choices still count)"))
    click.echo(f"proof pack requested: `flask worker` builds it (or `flask proof build {site.site_key} "
               f"--version {pv.version}` now)")
