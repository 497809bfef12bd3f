"""`flask demo`: the demo site that `make run` serves."""
import json
import os

import click
from flask import current_app

from app.cli.common import CommandGroup
from app.services.sites.administration import add_origins, create_site, get_site

demo_cli = CommandGroup("demo", help="The demo site used by `make run`.")


@demo_cli.command("ensure")
@click.option("--origin", default=None, help="Origin of the demo page; default http://127.0.0.1:$PORT.")
def demo_ensure_command(origin):
    """Create the demo site if none exists; print its key and API key (kept in the instance folder)."""
    port = os.environ.get("PORT", "5000")
    origins = [origin or f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    path = os.path.join(current_app.instance_path, "demo-site.json")
    creds = None
    if os.path.exists(path):
        with open(path) as f:
            creds = json.load(f)
        if get_site(creds["site_key"]) is None:
            creds = None
    if creds is None:
        # the widget links only to absolute http(s) policy URLs
        site, api_key = create_site("Demo shop", origins, policy_url=f"{origins[0]}/demo/privacy")
        creds = {"site_key": site.site_key, "api_key": api_key}
        os.makedirs(current_app.instance_path, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(creds, f)
    else:
        add_origins(get_site(creds["site_key"]), origins)
    click.echo(f"demo site_key: {creds['site_key']}\ndemo api_key:  {creds['api_key']}")
    click.echo(f"demo page:     {origins[0]}/demo")
