"""`flask subjects`: data-subject requests from the command line, over the same services as the API."""
import datetime as dt

import click

from app.cli.common import CommandGroup, fail, site_or_fail
from app.extensions import db
from app.services.email_consent.records import mask
from app.services.sites.snapshot import build_snapshot
from app.services.subjects.erasure import erase_subject, replay_erasures
from app.services.subjects.export import subject_document
from app.services.subjects.requests import STATUSES, list_requests

subjects_cli = CommandGroup("subjects", help="Data-subject requests: exports, erasures and the register of requests.")


def selector_options(command):
    """The four selectors, of which a command takes exactly one."""
    for flag, name in (("--person-id", "person_id"), ("--external-id", "external_id"), ("--email", "email"),
                       ("--visitor-id", "visitor_id")):
        command = click.option(flag, name, default=None, help=f"The subject's {name.replace('_', ' ')}.")(command)
    return command


def selectors(options):
    """The selector options given; ends the command unless exactly one is."""
    given = {k: v for k, v in options.items() if v}
    if len(given) != 1:
        fail("give exactly one of --visitor-id, --email, --external-id, --person-id")
    return given


@subjects_cli.command("export")
@click.argument("site_key")
@selector_options
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the document to this file (default: standard output).")
@click.option("--request-id", default=None, help="The register's access request this export fulfils.")
def export_command(site_key, out, request_id, **options):
    """Write everything the site holds of one person or browser as one JSON document."""
    snap = build_snapshot(site_or_fail(site_key))
    pieces = subject_document(db.engine, snap, selectors(options), request_id=request_id)
    with click.open_file(out or "-", "w", encoding="utf-8") as stream:  # "-": standard output, left open
        for piece in pieces:
            stream.write(piece)
    if out:
        click.echo(f"wrote {out}", err=True)


@subjects_cli.command("requests")
@click.argument("site_key", required=False)
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only requests with this status.")
def requests_command(site_key, status):
    """Print the register of one site or all, oldest due first: due date, status (OVERDUE when
    open past it), kind, request id, site, received, and the subject (an email masked)."""
    site_id = site_or_fail(site_key).id if site_key else None
    for key, req in list_requests(site_id, status):
        [(selector, value)] = req["selector"].items()
        shown = mask(value) if selector == "email" else value
        state = "OVERDUE" if req["overdue"] else req["status"]
        click.echo(f"{req['due_at'][:10]}\t{state}\t{req['kind']}\t{req['request_id']}\t{key}"
                   f"\treceived {req['received_at'][:10]}\t{selector}={shown}")


@subjects_cli.command("erase")
@click.argument("site_key")
@selector_options
@click.option("--request-id", default=None, help="The register's erasure request this fulfils.")
@click.option("--yes", is_flag=True, help="Erase without asking (it cannot be undone).")
def erase_command(site_key, request_id, yes, **options):
    """Erase one person or browser: nothing left links a row to them (decisions stay, anonymous)."""
    chosen = selectors(options)
    if not yes:
        click.confirm(f"Erase everything {site_key} holds of the subject with this {next(iter(chosen))}?", abort=True)
    snap = build_snapshot(site_or_fail(site_key))
    counts = erase_subject(snap, chosen, request_id)
    click.echo(", ".join(f"{kind.replace('_', ' ')}: {n}" for kind, n in counts.items()))


@subjects_cli.command("replay-erasures")
@click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="UTC: erase again every subject erased since then (the time of the backup restored).")
def replay_erasures_command(since):
    """After restoring a backup: re-apply every erasure made since the backup was taken (from the
    audit log), so no erased person comes back. Run it after any restore."""
    done = replay_erasures(since.replace(tzinfo=dt.timezone.utc))
    for site_key, selector, counts in done:
        click.echo(f"{site_key}: erased again by {selector}: " + ", ".join(f"{k.replace('_', ' ')}: {n}"
                                                                          for k, n in counts.items()))
    click.echo(f"{len(done)} erasure(s) re-applied")
