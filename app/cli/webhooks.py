"""`flask webhooks`: deliver webhooks and replay dead letters."""
import click

from app.cli.common import CommandGroup, site_or_fail
from app.services import audit
from app.services.webhooks.delivery import replay_dead, work

webhooks_cli = CommandGroup("webhooks", help="Deliver webhooks and replay dead letters.")


@webhooks_cli.command("work")
@click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
@click.option("--batch", default=100, show_default=True)
@click.option("--idle", default=1.0, show_default=True, help="Seconds to sleep when nothing is due.")
def work_command(once, batch, idle):
    """Deliver webhooks from the outbox (run beside gunicorn; several workers may run at once)."""
    with audit.acting_as(audit.SYSTEM):  # a periodic duty: what it changes (a 410 disables) is the system's
        work(once=once, limit=batch, idle=idle, log=click.echo)


@webhooks_cli.command("replay")
@click.option("--site", "site_key", default=None)
@click.option("--endpoint", default=None, help="An endpoint id (ep_...).")
def replay_command(site_key, endpoint):
    """Queue dead letters again, due now, with a fresh 24-hour retry window."""
    n = replay_dead(site_or_fail(site_key).id if site_key else None, endpoint)
    click.echo(f"queued {n} dead letter(s) again")
