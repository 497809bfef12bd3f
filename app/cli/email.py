"""`flask email-consents`: a site's email consent settings."""
import click

from app.cli.common import CommandGroup, site_or_fail
from app.services.sites.administration import set_email_double_opt_in

email_cli = CommandGroup("email-consents", help="Email consent settings.")


@email_cli.command("double-opt-in")
@click.argument("site_key")
@click.argument("state", type=click.Choice(["on", "off"]))
def double_opt_in_command(site_key, state):
    """Make double opt-in the site's default (on) or single opt-in (off)."""
    set_email_double_opt_in(site_or_fail(site_key), state == "on")
    click.echo(f"double opt-in {state}")
