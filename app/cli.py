"""flask commands wrapping the services."""
import datetime as dt
import json
import os
import sys
import time

import click
import yaml
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db, geo
from app.models import Site
from app.services import ledger, sites as site_service
from app.services.sites import SiteError

sites_cli = AppGroup("sites", help="Create, list, import and export sites.")
keys_cli = AppGroup("keys", help="Create and revoke API keys; rotate receipt keys.")
policy_cli = AppGroup("policy", help="Publish policy versions.")
ledger_cli = AppGroup("ledger", help="Seal and verify the consent ledger.")
geoip_cli = AppGroup("geoip", help="The GeoIP database in use.")
demo_cli = AppGroup("demo", help="The demo site used by `make run`.")


def fail(message):
    raise click.ClickException(message)


def site_or_fail(site_key):
    try:
        return site_service.require_site(site_key)
    except SiteError as e:
        fail(str(e))


@sites_cli.command("create")
@click.option("--name", required=True, help="Display name of the site.")
@click.option("--origin", "origins", multiple=True, required=True, help="Origin allowed to call the browser API.")
@click.option("--language", "languages", multiple=True, help="Site language (repeat); default en de fr es.")
@click.option("--policy-url", default="", help="URL of the privacy policy (version 1).")
@click.option("--json", "as_json", is_flag=True, help="Print only {site_key, api_key} as JSON.")
def create_site_command(name, origins, languages, policy_url, as_json):
    """Create a site; prints its key and a secret API key, shown once."""
    try:
        site, api_key = site_service.create_site(name, origins, languages or ("en", "de", "fr", "es"),
                                                 (languages or ("en",))[0], policy_url)
    except SiteError as e:
        fail(str(e))
    if as_json:
        click.echo(json.dumps({"site_key": site.site_key, "api_key": api_key}))
    else:
        click.echo(f"site_key: {site.site_key}\napi_key:  {api_key}\n(the API key is shown only once)")


@sites_cli.command("list")
def list_sites_command():
    """List sites: key, name, origins."""
    for site in db.session.execute(db.select(Site).order_by(Site.id)).scalars():
        click.echo(f"{site.site_key}\t{site.name}\t{' '.join(site.origins)}")


@sites_cli.command("export")
@click.argument("site_key")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json")
def export_site_command(site_key, fmt):
    """Print a site's whole configuration (no secrets) as JSON or YAML."""
    doc = site_service.export_site(site_or_fail(site_key))
    if fmt == "yaml":
        click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), nl=False)
    else:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@sites_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def import_site_command(file):
    """Create or update a site from a JSON or YAML document (as `sites export` writes)."""
    try:
        doc = yaml.safe_load(file.read())  # YAML is a superset of JSON
    except yaml.YAMLError as e:
        fail(f"cannot read {file.name}: {e}")
    try:
        site, api_key = site_service.import_site(doc)
    except SiteError as e:
        fail(f"invalid site document: {e}")
    click.echo(f"imported site {site.site_key} ({site.name})")
    if api_key:
        click.echo(f"api_key: {api_key}\n(the API key is shown only once)")


@keys_cli.command("create")
@click.argument("site_key")
@click.option("--name", default="", help="A label for the key.")
def create_key_command(site_key, name):
    """Create a new secret API key for a site; shown once."""
    click.echo(site_service.create_api_key(site_or_fail(site_key), name))


@keys_cli.command("revoke")
@click.argument("api_key_or_prefix")
def revoke_key_command(api_key_or_prefix):
    """Revoke an API key, given whole or by its first 17 characters."""
    n = site_service.revoke_api_key(api_key_or_prefix)
    if not n:
        fail("no active key with that prefix")
    click.echo(f"revoked {n} key(s)")


@keys_cli.command("rotate-receipt")
@click.argument("site_key")
def rotate_receipt_command(site_key):
    """Start signing receipts with a new secret; older secrets still verify."""
    key = site_service.rotate_receipt_key(site_or_fail(site_key))
    click.echo(f"receipt key {key.id} now signs new receipts")


@keys_cli.command("receipt-secrets")
@click.argument("site_key")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of one secret per line.")
def receipt_secrets_command(site_key, as_json):
    """Print the site's active receipt secrets, oldest first (the last signs), for offline checks."""
    secrets = site_service.receipt_secrets(site_or_fail(site_key))
    click.echo(json.dumps(secrets) if as_json else "\n".join(secrets))


@policy_cli.command("publish")
@click.argument("site_key")
@click.option("--version", "version", required=True)
@click.option("--url", required=True)
@click.option("--effective-at", default=None, help="ISO 8601 time; default now.")
def publish_policy_command(site_key, version, url, effective_at):
    """Publish a policy version; decisions under older versions become stale once it is effective."""
    site = site_or_fail(site_key)
    when = None
    if effective_at:
        try:
            when = dt.datetime.fromisoformat(effective_at)
        except ValueError:
            fail(f"--effective-at is not an ISO 8601 time: {effective_at}")
    try:
        pv = site_service.publish_policy(site, version, url, when)
    except SiteError as e:
        fail(str(e))
    click.echo(f"published {pv.version} effective {pv.effective_at.isoformat()} content {pv.content_hash[:12]}")


@ledger_cli.command("seal")
@click.argument("site_key", required=False)
@click.option("--lag", default=None, type=int, help="Leave records younger than this many seconds.")
@click.option("--every", default=0.0, type=float, help="Keep sealing, every this many seconds (run beside gunicorn).")
def seal_command(site_key, lag, every):
    """Seal unsealed records (all sites, or one); with --every, keep doing so until stopped."""
    lag = current_app.config["LEDGER_SEAL_LAG"] if lag is None else lag
    while True:
        for site in _sites(site_key):
            sealed = ledger.seal_site(site.id, lag)
            if sealed or not every:
                click.echo(f"{site.site_key}: sealed {sealed} record(s)")
        db.session.remove()
        if not every:
            return
        time.sleep(every)


@ledger_cli.command("verify")
@click.argument("site_key", required=False)
@click.option("--json", "as_json", is_flag=True)
def verify_command(site_key, as_json):
    """Check every record and seal; exits 1 and names each altered, inserted or removed record."""
    ok = True
    reports = {}
    for site in _sites(site_key):
        report = ledger.verify_site(site.id)
        reports[site.site_key] = report
        ok = ok and report["ok"]
        if not as_json:
            state = "OK" if report["ok"] else "TAMPERED"
            click.echo(f"{site.site_key}: {state} ({report['sealed']} sealed in {report['seals']} seal(s), "
                       f"{report['unsealed']} not yet sealed)")
            for p in report["problems"]:
                click.echo(f"  {p['kind']}: {p['detail']}")
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    sys.exit(0 if ok else 1)


def _sites(site_key):
    if site_key:
        return [site_or_fail(site_key)]
    return db.session.execute(db.select(Site).order_by(Site.id)).scalars().all()


@geoip_cli.command("info")
def geoip_info_command():
    """Print the GeoIP database type and build date."""
    for k, v in geo.info().items():
        click.echo(f"{k}: {v}")


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
        if site_service.get_site(creds["site_key"]) is None:
            creds = None
    if creds is None:
        # the widget links only to absolute http(s) policy URLs
        site, api_key = site_service.create_site("Demo shop", origins, policy_url=f"{origins[0]}/demo/privacy")
        creds = {"site_key": site.site_key, "api_key": api_key}
        os.makedirs(current_app.instance_path, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(creds, f)
    else:
        site = site_service.get_site(creds["site_key"])
        for o in origins:
            if o not in site.origins:
                site.origins = site.origins + [o]
        db.session.commit()
    click.echo(f"demo site_key: {creds['site_key']}\ndemo api_key:  {creds['api_key']}")
    click.echo(f"demo page:     {origins[0]}/demo")


def init_app(app):
    """Register every command group."""
    for group in (sites_cli, keys_cli, policy_cli, ledger_cli, geoip_cli, demo_cli):
        app.cli.add_command(group)
    from app import cli_marketing

    cli_marketing.init_app(app, keys_cli)  # issue 5: identities, webhooks, email consents, keys rotate-master
