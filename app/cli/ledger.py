"""`flask ledger`: seal and verify the consent ledger."""
import json
import sys
import time

import click

from app.cli.common import CommandGroup, sites_or_one
from app.extensions import db, ledger
from app.ledger import seals

ledger_cli = CommandGroup("ledger", help="Seal and verify the consent ledger.")


@ledger_cli.command("seal")
@click.argument("site_key", required=False)
@click.option("--lag", default=None, type=int, help="Leave records younger than this many seconds.")
@click.option("--every", default=0.0, type=float, help="Keep sealing, every this many seconds (run beside gunicorn).")
def seal_command(site_key, lag, every):
    """Seal unsealed records (all sites, or one); with --every, keep doing so until stopped."""
    lag = ledger.state.seal_lag if lag is None else lag
    while True:
        for site in sites_or_one(site_key):
            sealed = seals.seal_site(site.id, lag)
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
    for site in sites_or_one(site_key):
        report = seals.verify_site(site.id)
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
