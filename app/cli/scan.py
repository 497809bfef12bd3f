"""`flask scan URL --site SITE_KEY`: the compliance scanner from the command line (app/services/scanner/).

It exits 1 when the scan found anything and 0 when it found nothing, so a deploy can be gated on
it; a URL, site or region it cannot scan is a usage error (exit 2).
"""
import json

import click
from flask import current_app
from flask.cli import with_appcontext

from app.errors import DomainError
from app.services.scanner.report import render_html, run_scan, without_screenshots
from app.services.scanner.settings import Settings
from app.services.sites.administration import require_site


@click.command("scan")
@with_appcontext
@click.argument("url")
@click.option("--site", "site_key", required=True, help="The site whose widget and declarations the page uses.")
@click.option("--region", "regions", multiple=True,
              help="A visitor's region: DE, US-CA, ... (repeat; DE and US-CA if none).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report (without screenshots).")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), help="Write the HTML report here.")
def scan_command(url, site_key, regions, as_json, out):
    """Scan a page before any choice, after Reject all, after Accept all and with GPC, per region."""
    try:
        site = require_site(site_key)
        report = run_scan(site, url, list(regions), Settings.from_app(current_app))
    except DomainError as e:
        raise click.UsageError(e.message) from None
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(render_html(report))
    if as_json:
        click.echo(json.dumps(without_screenshots(report), indent=2))
    else:
        click.echo(f"scanned {url} for {site_key} in {', '.join(report['regions'])}: {report['seconds']} s")
        for f in report["findings"]:
            click.echo(f"  {f['kind']} [{f['region']} {f['state']}] {json.dumps(f['evidence'])[:200]}")
        for n in report["notes"]:
            click.echo(f"  note: {n}")
        click.echo(f"{len(report['findings'])} findings" + (f"; HTML report in {out}" if out else ""))
    if report["findings"]:
        click.get_current_context().exit(1)
