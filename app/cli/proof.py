"""`flask proof`: build, complete and export the proof pack of a policy version (app/services/proof/)."""
import click
from flask import current_app

from app.cli.common import CommandGroup, site_or_fail
from app.services.proof import packs

proof_cli = CommandGroup("proof", help="Build, complete and export proof packs of policy versions.")


def _said(pack) -> str:
    m = pack.manifest
    shots = (f"{2 * len(m['views'])} screenshots" if m["screenshots"]
             else f"NO screenshots ({m['screenshots_reason']}); `flask proof rebuild` completes it")
    return f"pack {pack.id} of {m['site_key']} version {m['policy_version']}: {shots}, digest {pack.digest}"


@proof_cli.command("build")
@click.argument("site_key")
@click.option("--version", "version", required=True)
def build_command(site_key, version):
    """Build the pack of a version now (one its publish requested, or one published before packs)."""
    site = site_or_fail(site_key)
    click.echo(_said(packs.build(site, version, packs.Settings.from_app(current_app))))


@proof_cli.command("rebuild")
@click.argument("site_key")
@click.option("--version", "version", required=True)
def rebuild_command(site_key, version):
    """Build the version's pack again (a pack without screenshots, once Chromium is there): a new
    pack that names the one it supersedes."""
    site = site_or_fail(site_key)
    click.echo(_said(packs.rebuild(site, version, packs.Settings.from_app(current_app))))


@proof_cli.command("export")
@click.argument("site_key")
@click.option("--version", "version", required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def export_command(site_key, version, out):
    """Write the version's pack as a ZIP: manifest, screenshots, configurations, README, verify_pack.py."""
    site = site_or_fail(site_key)
    pack, data = packs.export(site, version)
    with open(out, "wb") as f:
        f.write(data)
    click.echo(f"wrote {out}: {_said(pack)}")
