"""`flask sites`: create, list, export and import sites, and say who their controller is."""
import json

import click
import yaml

from app.cli.common import CommandGroup, fail, site_or_fail
from app.errors import Invalid
from app.extensions import db
from app.models import Site
from app.services.sites.administration import create_site
from app.services.sites.documents import export_site, import_site
from app.services.subjects.controller import CONTROLLER_FIELDS, DPO_FIELDS, update_controller

sites_cli = CommandGroup("sites", help="Create, list, import and export sites.")


@sites_cli.command("create")
@click.option("--name", required=True, help="Display name of the site.")
@click.option("--origin", "origins", multiple=True, required=True, help="Origin allowed to call the browser API.")
@click.option("--language", "languages", multiple=True, help="Site language (repeat); default en de fr es.")
@click.option("--policy-url", default="", help="URL of the privacy policy (version 1).")
@click.option("--json", "as_json", is_flag=True, help="Print only {site_key, api_key} as JSON.")
def create_site_command(name, origins, languages, policy_url, as_json):
    """Create a site; prints its key and a secret API key, shown once."""
    site, api_key = create_site(name, origins, languages or ("en", "de", "fr", "es"), (languages or ("en",))[0],
                                policy_url)
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
    doc = export_site(site_or_fail(site_key))
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
        site, api_key = import_site(doc)
    except Invalid as e:
        fail(f"invalid site document: {e.message}")
    click.echo(f"imported site {site.site_key} ({site.name})")
    if api_key:
        click.echo(f"api_key: {api_key}\n(the API key is shown only once)")


def _controller_options(command):
    for name in reversed(DPO_FIELDS):
        command = click.option(f"--dpo-{name}", f"dpo_{name}", default=None,
                               help=f"The data-protection officer's {name} ('' clears it).")(command)
    for name in reversed(CONTROLLER_FIELDS):
        command = click.option(f"--{name}", name, default=None, help=f"The controller's {name} ('' clears it).")(command)
    return command


@sites_cli.command("controller")
@click.argument("site_key")
@_controller_options
def controller_command(site_key, **options):
    """Show who the site's controller is (JSON), or change the fields given; the same mapping as
    `controller` in the site document, which exports and Kantara receipts name."""
    site = site_or_fail(site_key)
    changes = {k: v for k, v in options.items() if v is not None and not k.startswith("dpo_")}
    dpo = {k.removeprefix("dpo_"): v for k, v in options.items() if v is not None and k.startswith("dpo_")}
    if dpo:
        changes["dpo"] = dpo
    controller = update_controller(site, changes) if changes else site.controller or {}
    click.echo(json.dumps(controller, indent=2, ensure_ascii=False))
