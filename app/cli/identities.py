"""`flask identities`: the secret and tokens for `opsiqConsent.identify()`."""
import click

from app.cli.common import CommandGroup, site_or_fail
from app.services import keyring as keyring_service
from app.services.identities import mint_token

identities_cli = CommandGroup("identities", help="Identity tokens for opsiqConsent.identify().")


@identities_cli.command("secret")
@click.argument("site_key")
def identity_secret_command(site_key):
    """Print the site's identity secret, with which your server signs identify() tokens."""
    click.echo(keyring_service.keyring(site_or_fail(site_key).id).identity_secret)


@identities_cli.command("token")
@click.argument("site_key")
@click.option("--email", default=None)
@click.option("--external-id", default=None)
@click.option("--visitor-id", default=None, help="Only this visitor may use the token.")
def identity_token_command(site_key, email, external_id, visitor_id):
    """Print an identity token as the customer's server would mint it (valid 10 minutes)."""
    if not email and not external_id:
        raise click.ClickException("give --email or --external-id")
    click.echo(mint_token(site_or_fail(site_key).id, email, external_id, visitor_id))
