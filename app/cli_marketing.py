"""flask commands for identities, personal-data keys, email consent and webhooks (issue 5)."""

import click
from flask.cli import AppGroup, with_appcontext

from app.services import keyring as keyring_service, webhooks
from app.services.identities import mint_token
from app.services.keyring import KeyringError
from app.services.sites import SiteError, require_site

identities_cli = AppGroup("identities", help="Identity tokens for opsiqConsent.identify().")
webhooks_cli = AppGroup("webhooks", help="Deliver webhooks and replay dead letters.")
email_cli = AppGroup("email-consents", help="Email consent settings.")


def _site(site_key):
    try:
        return require_site(site_key)
    except SiteError as e:
        raise click.ClickException(str(e))


@identities_cli.command("secret")
@click.argument("site_key")
def identity_secret_command(site_key):
    """Print the site's identity secret, with which your server signs identify() tokens."""
    click.echo(keyring_service.keyring(_site(site_key).id).identity_secret)


@identities_cli.command("token")
@click.argument("site_key")
@click.option("--email", default=None)
@click.option("--external-id", default=None)
@click.option("--visitor-id", default=None, help="Only this visitor may use the token.")
def identity_token_command(site_key, email, external_id, visitor_id):
    """Print an identity token as the customer's server would mint it (valid 10 minutes)."""
    if not email and not external_id:
        raise click.ClickException("give --email or --external-id")
    click.echo(mint_token(_site(site_key).id, email, external_id, visitor_id))


@click.command("rotate-master")
@with_appcontext
@click.option("--old-master-key", envvar="OPSIQ_OLD_MASTER_KEY", required=True,
              help="The master key the keyrings are wrapped with now (or env OPSIQ_OLD_MASTER_KEY).")
def rotate_master_command(old_master_key):
    """Re-wrap every site's keyring under OPSIQ_MASTER_KEY; no record is read or written."""
    try:
        old = keyring_service.parse_master_key(old_master_key)
        new = keyring_service.master_key()
        done, already = keyring_service.rotate_master(old, new)
    except KeyringError as e:
        raise click.ClickException(str(e))
    click.echo(f"re-wrapped {done} site keyring(s); {already} already under the new master key")


@click.command("new-master")
@with_appcontext
def new_master_command():
    """Print a fresh random master key for OPSIQ_MASTER_KEY."""
    click.echo(keyring_service.new_master_key())


@email_cli.command("double-opt-in")
@click.argument("site_key")
@click.argument("state", type=click.Choice(["on", "off"]))
def double_opt_in_command(site_key, state):
    """Make double opt-in the site's default (on) or single opt-in (off)."""
    keyring_service.set_double_opt_in(_site(site_key).id, state == "on")
    click.echo(f"double opt-in {state}")


@webhooks_cli.command("work")
@click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
@click.option("--batch", default=100, show_default=True)
@click.option("--idle", default=1.0, show_default=True, help="Seconds to sleep when nothing is due.")
def work_command(once, batch, idle):
    """Deliver webhooks from the outbox (run beside gunicorn; several workers may run at once)."""
    webhooks.work(once=once, limit=batch, idle=idle, log=click.echo)


@webhooks_cli.command("replay")
@click.option("--site", "site_key", default=None)
@click.option("--endpoint", default=None, help="An endpoint id (ep_...).")
def replay_command(site_key, endpoint):
    """Queue dead letters again, due now, with a fresh 24-hour retry window."""
    n = webhooks.replay_dead(_site(site_key).id if site_key else None, endpoint)
    click.echo(f"queued {n} dead letter(s) again")


def init_app(app, keys_cli):
    """Register these groups, and add the master-key commands to `flask keys`."""
    keys_cli.add_command(rotate_master_command)
    keys_cli.add_command(new_master_command)
    for group in (identities_cli, webhooks_cli, email_cli):
        app.cli.add_command(group)
