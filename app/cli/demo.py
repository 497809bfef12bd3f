"""`flask demo`: the demo site that `make run` serves."""
import json
import os

import click
from flask import current_app

from app.cli.common import CommandGroup
from app.services.sites.administration import add_origins, create_site, get_site
from app.services.users import accounts, passwords

DEMO_OWNER = "owner@demo.example"

demo_cli = CommandGroup("demo", help="The demo site used by `make run`.")


@demo_cli.command("ensure")
@click.option("--origin", default=None, help="Origin of the demo page; default http://127.0.0.1:$PORT.")
def demo_ensure_command(origin):
    """Create the demo site and a dashboard owner if none exist; print the site's key and API key, and
    the owner's email and password (kept in the instance folder; a later run changes none of them)."""
    port = os.environ.get("PORT", "5000")
    origins = [origin or f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    path = os.path.join(current_app.instance_path, "demo-site.json")
    creds = {}
    if os.path.exists(path):
        with open(path) as f:
            creds = json.load(f)
    if not creds.get("site_key") or get_site(creds["site_key"]) is None:
        # the widget links only to absolute http(s) policy URLs
        site, api_key = create_site("Demo shop", origins, policy_url=f"{origins[0]}/demo/privacy")
        creds.update(site_key=site.site_key, api_key=api_key)
        _save(path, creds)
    else:
        add_origins(get_site(creds["site_key"]), origins)
    email = creds.setdefault("owner_email", DEMO_OWNER)
    if accounts.find_user(email) is None:
        # the installation's first owner (every site): made once, with a random password kept beside the keys
        creds["owner_password"] = passwords.new_password()
        accounts.create_user(email, "owner", creds["owner_password"])
        _save(path, creds)
    click.echo(f"demo site_key: {creds['site_key']}\ndemo api_key:  {creds['api_key']}")
    click.echo(f"demo page:     {origins[0]}/demo")
    password = creds.get("owner_password") or "(as set before: flask users reset-password to set another)"
    click.echo(f"dashboard:     {origins[0]}/admin/  sign in as {email}, password {password}")


def _save(path, creds):
    """Write the demo's credentials readable by their owner only."""
    os.makedirs(current_app.instance_path, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(creds, f)
