"""`flask subjects`: data-subject requests from the command line, over the same services as the API."""
import click

from app.cli.common import CommandGroup, fail, site_or_fail
from app.extensions import db
from app.services.sites.snapshot import build_snapshot
from app.services.subjects.export import subject_document

subjects_cli = CommandGroup("subjects", help="Data-subject requests: exports and the register of requests.")


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
def export_command(site_key, out, **options):
    """Write everything the site holds of one person or browser as one JSON document."""
    snap = build_snapshot(site_or_fail(site_key))
    pieces = subject_document(db.engine, snap, selectors(options))
    with click.open_file(out or "-", "w", encoding="utf-8") as stream:  # "-": standard output, left open
        for piece in pieces:
            stream.write(piece)
    if out:
        click.echo(f"wrote {out}", err=True)
