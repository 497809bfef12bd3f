"""`flask ledger`: seal, verify, anchor and key the consent ledger."""
import json
import sys
import time

import click

from app.cli.common import CommandGroup, fail, sites_or_one
from app.extensions import db, ledger
from app.ledger import anchors, chains, macs, seals
from app.ledger.verify import rekey_site, verify_site
from app.services import audit
from app.services.keyring import KeyringError, parse_master_key

ledger_cli = CommandGroup("ledger", help="Seal, verify, anchor and key the consent ledger.")


@ledger_cli.command("seal")
@click.argument("site_key", required=False)
@click.option("--lag", default=None, type=int, help="Leave records younger than this many seconds.")
@click.option("--every", default=0.0, type=float, help="Keep sealing, every this many seconds (run beside gunicorn).")
def seal_command(site_key, lag, every):
    """Seal unsealed records (all sites, or one); with --every, keep doing so until stopped."""
    lag = ledger.state.seal_lag if lag is None else lag
    while True:
        sites = sites_or_one(site_key)
        for site in sites:
            sealed = seals.seal_site(site.id, lag)
            if sealed or not every:
                click.echo(f"{site.site_key}: sealed {sealed} record(s)")
        for chain, scope in chains.scopes(sites, installation=not site_key):
            sealed = chains.seal_chain(chain, scope, lag)
            if sealed or not every:
                click.echo(f"{_scope_label(sites, scope)}: sealed {sealed} {chain.noun}(s)")
        db.session.remove()
        if not every:
            return
        time.sleep(every)


@ledger_cli.command("verify")
@click.argument("site_key", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--anchor", "anchor_file", type=click.File("r"),
              help="An anchor from `flask ledger anchor`: also fail if the seals it names are gone or changed.")
def verify_command(site_key, as_json, anchor_file):
    """Check every record, seal and MAC; exits 1 and names each altered, inserted or removed record."""
    heads, missing = {}, []
    if anchor_file is not None:
        try:
            document = json.load(anchor_file)
            heads = anchors.anchored_sites(document)
        except ValueError as e:
            fail(f"{anchor_file.name}: {e}")
        missing = [k for k in anchors.missing_sites(document) if not site_key or k == site_key]
    ok = not missing
    reports = {}
    key = macs.ledger_key()
    sites = sites_or_one(site_key)
    for site in sites:
        report = verify_site(site.id, anchor=heads.get(site.site_key), key=key)
        reports[site.site_key] = report
        if not as_json:
            extra = "".join(f", {report[k]} {k}" for k in ("erased", "purged") if report[k])
            _echo_report(site.site_key, report, extra)
    for chain, scope in chains.scopes(sites, installation=not site_key):
        label = _scope_label(sites, scope)
        held = anchors.anchored_chains(document, None if scope == chains.INSTALLATION else label) if anchor_file else {}
        report = chains.verify_chain(chain, scope, key, anchor=held.get(chain.name))
        reports.setdefault(label, {"ok": True, "problems": []}).setdefault("chains", {})[chain.name] = report
        if not as_json:
            extra = f", {report['deleted']} deleted" if report["deleted"] else ""
            _echo_report(f"{label} {chain.name} chain", report, extra)
    ok = ok and all(r["ok"] and all(c["ok"] for c in r.get("chains", {}).values()) for r in reports.values())
    for site_key_gone in missing:
        reports[site_key_gone] = {"ok": False, "problems": [{"kind": "anchor_missing", "detail": "site is gone"}]}
        if not as_json:
            click.echo(f"{site_key_gone}: TAMPERED (the anchor names this site; the database has no such site)")
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    sys.exit(0 if ok else 1)


def _scope_label(sites, scope: int) -> str:
    """How the commands name a chain's scope: the site's key, or `(installation)`."""
    if scope == chains.INSTALLATION:
        return "(installation)"
    return next(site.site_key for site in sites if site.id == scope)


def _echo_report(label: str, report: dict, extra: str = "") -> None:
    state = "OK" if report["ok"] else "TAMPERED"
    click.echo(f"{label}: {state} ({report['sealed']} sealed in {report['seals']} seal(s), "
               f"{report['unsealed']} not yet sealed{extra})")
    for p in report["problems"]:
        click.echo(f"  {p['kind']}: {p['detail']}")


@ledger_cli.command("anchor")
@click.argument("site_key", required=False)
@click.option("--out", "out", type=click.File("w"), default="-", help="Write the anchor here (default: stdout).")
def anchor_command(site_key, out):
    """Write the latest seal head of every site (or one) as JSON: keep it outside the database."""
    json.dump(anchors.anchor_document(sites_or_one(site_key), installation=not site_key), out, indent=2)
    out.write("\n")


@ledger_cli.command("rekey")
@click.argument("site_key", required=False)
@click.option("--old-master-key", envvar="OPSIQ_OLD_MASTER_KEY", default=None,
              help="After `flask keys rotate-master`: the previous master key, whose MACs are re-made.")
def rekey_command(site_key, old_master_key):
    """MAC the seals made before keyed seals (once); with the old master key, re-make every ledger
    MAC under the new one. Only a ledger that verifies is keyed: keying a tampered chain would vouch for it."""
    try:
        old = macs.ledger_key(parse_master_key(old_master_key)) if old_master_key else None
    except KeyringError as e:
        fail(str(e))
    key = macs.ledger_key()
    for site in sites_or_one(site_key):
        # in the session rekey_site commits: the entry stands only if the keying does
        audit.record("ledger.rekeyed", audit.Target("ledger", site.site_key), site.id, {"old_master_key": bool(old)})
        click.echo(f"{site.site_key}: keyed {rekey_site(site.id, key, old)} seal(s)")
    if old is not None:  # the side chains' seals are keyed from the start: only a new master key re-makes them
        sites = sites_or_one(site_key)
        for chain, scope in chains.scopes(sites, installation=not site_key):
            click.echo(f"{_scope_label(sites, scope)}: keyed {chains.rekey_chain(chain, scope, key, old)} "
                       f"{chain.name} seal(s)")
