"""`flask worker`: every periodic duty in one process (app/worker.py)."""
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.services import audit
from app.worker import run_worker


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the duties until none has anything due, then stop (exit 1 if one failed).")
@with_appcontext
def worker_command(once):
    """Run the periodic duties (webhook deliveries, ledger sealing, retention purges,
    statistics rollups, proof packs, compliance scans) until stopped; beside gunicorn.
    Several may run at once: the duties coordinate through the database."""
    with audit.acting_as(audit.SYSTEM):  # what a periodic duty changes (a 410 disables an endpoint) is the system's
        ok = run_worker(current_app._get_current_object(), once=once, log=click.echo)
    if once and not ok:
        sys.exit(1)
