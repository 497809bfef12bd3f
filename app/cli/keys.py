"""`flask keys`: API keys, receipt-signing secrets and the master key for personal data."""
import json

import click

from app.cli.common import CommandGroup, fail, site_or_fail
from app.services import keyring as keyring_service
from app.services.keyring import KeyringError
from app.services.sites.keys import create_api_key, receipt_secrets, revoke_api_key, rotate_receipt_key

keys_cli = CommandGroup("keys", help="Create and revoke API keys; rotate receipt keys.")


@keys_cli.command("create")
@click.argument("site_key")
@click.option("--name", default="", help="A label for the key.")
def create_key_command(site_key, name):
    """Create a new secret API key for a site; shown once."""
    click.echo(create_api_key(site_or_fail(site_key), name))


@keys_cli.command("revoke")
@click.argument("api_key_or_prefix")
def revoke_key_command(api_key_or_prefix):
    """Revoke an API key, given whole or by its first 17 characters."""
    n = revoke_api_key(api_key_or_prefix)
    if not n:
        fail("no active key with that prefix")
    click.echo(f"revoked {n} key(s)")


@keys_cli.command("rotate-receipt")
@click.argument("site_key")
def rotate_receipt_command(site_key):
    """Start signing receipts with a new secret; older secrets still verify."""
    key = rotate_receipt_key(site_or_fail(site_key))
    click.echo(f"receipt key {key.id} now signs new receipts")


@keys_cli.command("receipt-secrets")
@click.argument("site_key")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of one secret per line.")
def receipt_secrets_command(site_key, as_json):
    """Print the site's active receipt secrets, oldest first (the last signs), for offline checks."""
    secrets = receipt_secrets(site_or_fail(site_key))
    click.echo(json.dumps(secrets) if as_json else "\n".join(secrets))


@keys_cli.command("rotate-master")
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
    click.echo("the ledger's MACs are derived from the master key: now run `flask ledger rekey` "
               "with the same OPSIQ_OLD_MASTER_KEY")


@keys_cli.command("new-master")
def new_master_command():
    """Print a fresh random master key for OPSIQ_MASTER_KEY."""
    click.echo(keyring_service.new_master_key())
