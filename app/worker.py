"""`flask worker`: the one background process, running every periodic duty.

Production is two commands: `gunicorn wsgi:app` and `flask worker`. Each duty is a function that
does one bounded round of its work and says how much it did; the worker runs a duty again at once
while its rounds come back full, and otherwise after the duty's interval. Several workers may run
(on several hosts): each duty coordinates through the database, so two never do the same work
(webhook deliveries are claimed with SKIP LOCKED and a lease, app/services/webhooks/delivery.py;
a site is sealed under an advisory lock, app/ledger/seals.py, and rolled up under another, moving
its mark only from where it found it, app/services/stats/rollup.py). A duty that fails (the database
out of reach, say) is logged and tried again after its interval, doubled on each failure up to a
minute; it never stops the others. SIGTERM and SIGINT end the worker after the round in progress.

Configuration, read once when the worker starts:

  WORKER_WEBHOOK_BATCH    deliveries per round (100)
  WORKER_SEAL_SECONDS     seconds between sealing rounds (5; OPSIQ_WORKER_SEAL_SECONDS); set
                          OPSIQ_LEDGER_SEAL_INTERVAL=0 so the write path leaves sealing to the worker
  LEDGER_SEAL_LAG         records younger than this are left for the next round (5; OPSIQ_LEDGER_SEAL_LAG)
  WORKER_RETENTION_SECONDS  seconds between retention purges (86400; OPSIQ_WORKER_RETENTION_SECONDS)
  WORKER_ROLLUP_SECONDS   seconds between statistics rollups (10; OPSIQ_WORKER_ROLLUP_SECONDS); records
                          younger than LEDGER_SEAL_LAG wait for the next round, as for the seals
  WORKER_PROOF_SECONDS    seconds between rounds building the proof packs publishes requested (10;
                          OPSIQ_WORKER_PROOF_SECONDS), PROOF_PER_ROUND a round, in PROOF_CHROMIUM
  WORKER_SCAN_SECONDS     seconds between looks for queued compliance scans (5; OPSIQ_WORKER_SCAN_SECONDS),
                          one scan a round, in SCAN_CHROMIUM
"""
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from app.extensions import db

MAX_BACKOFF = 60.0
RETENTION_PER_ROUND = 50_000  # consent records a site per retention round, so the other duties get their turn
ROLLUP_PER_ROUND = 50_000  # consent records a site per statistics rollup round, likewise
PROOF_PER_ROUND = 5  # proof packs a round (each a few seconds of Chromium)


def retention_settings(config):
    from app.services.retention import Settings

    return Settings.from_config(config)


def proof_settings(app):
    from app.services.proof.packs import Settings

    return Settings.from_app(app)


@dataclass
class Duty:
    """A periodic duty: `run()` does one round and returns (work done, whether the round was full)."""

    name: str
    every: float
    run: Callable[[], tuple[int, bool]]
    next_at: float = 0.0
    failures: int = 0
    done: int = field(default=0)


def deliver_webhooks(batch: int) -> Callable[[], tuple[int, bool]]:
    from app.services.webhooks.delivery import deliver_due

    def run():
        counts = deliver_due(limit=batch)
        n = sum(counts.values())
        return n, n >= batch

    return run


def seal_ledger(lag: float) -> Callable[[], tuple[int, bool]]:
    from app.ledger import chains, seals
    from app.models import Site

    def run():
        """Seal every site's unsealed records older than `lag` (in seals of up to 5,000, under the site's
        lock), then its email records and audit entries, and the installation's audit entries."""
        total = 0
        sites = db.session.execute(db.select(Site).order_by(Site.id)).scalars().all()
        for site in sites:
            total += seals.seal_site(site.id, lag)
        for chain, scope in chains.scopes(sites, installation=True):
            total += chains.seal_chain(chain, scope, lag)
        return total, False  # each sealer already seals all that is due

    return run


def purge_retention(settings, per_round: int) -> Callable[[], tuple[int, bool]]:
    from app.errors import Conflict
    from app.models import Site
    from app.services import retention

    def run():
        """Purge every site past its retention, at most `per_round` consent records a site (full: more
        remain); an audit entry for each site where something went."""
        total, full = 0, False
        sites = db.session.execute(db.select(Site).order_by(Site.id)).scalars().all()
        for i, site in enumerate(sites):
            try:
                counts = retention.purge_site(site, settings, record_empty=False, limit=per_round,
                                              installation=i == 0)
            except Conflict:
                continue  # another purge of the site is running (a person's `flask retention purge`)
            total += counts.removed()
            full = full or counts.consent_records >= per_round
        return total, full

    return run


def rollup_statistics(lag: float, per_round: int) -> Callable[[], tuple[int, bool]]:
    from app.services.stats.rollup import rollup_sites

    def run():
        """Count every site's decisions recorded since its mark and older than `lag`, at most
        `per_round` records a site (full: more remain)."""
        return rollup_sites(lag, limit=per_round)

    return run


def build_proof_packs(settings, per_round: int) -> Callable[[], tuple[int, bool]]:
    from app.services.proof.packs import build_pending

    def run():
        """Build up to `per_round` of the proof packs publishes requested (full: more remain)."""
        return build_pending(settings, per_round)

    return run


def run_scans(settings) -> Callable[[], tuple[int, bool]]:
    from app.services.scanner.queue import run_pending

    def run():
        """Run one queued compliance scan, claimed so no other worker runs it (full: more wait)."""
        return run_pending(settings)

    return run


def scan_settings(app):
    from app.services.scanner.settings import Settings

    return Settings.from_app(app)


def duties_for(app: Flask) -> list[Duty]:
    """The periodic duties of this app, with their intervals from its configuration."""
    config = app.config
    return [
        Duty("webhooks", 1.0, deliver_webhooks(int(config["WORKER_WEBHOOK_BATCH"]))),
        Duty("ledger seal", float(config["WORKER_SEAL_SECONDS"]), seal_ledger(float(config["LEDGER_SEAL_LAG"]))),
        Duty("retention", float(config["WORKER_RETENTION_SECONDS"]), purge_retention(
            retention_settings(config), RETENTION_PER_ROUND)),
        Duty("rollup", float(config["WORKER_ROLLUP_SECONDS"]), rollup_statistics(
            float(config["LEDGER_SEAL_LAG"]), ROLLUP_PER_ROUND)),
        Duty("proof", float(config["WORKER_PROOF_SECONDS"]), build_proof_packs(proof_settings(app), PROOF_PER_ROUND)),
        Duty("scan", float(config["WORKER_SCAN_SECONDS"]), run_scans(scan_settings(app))),
    ]


def run_worker(app: Flask, once: bool = False, log: Callable[[str], None] = print,
               stop: threading.Event | None = None) -> bool:
    """Run the duties until stopped (SIGTERM/SIGINT or `stop`), or with `once` until a pass over all
    of them finds nothing to do (one duty's work can make another's: a seal sends a webhook).
    Returns False if a duty failed in `once` mode (True otherwise)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    duties = duties_for(app)
    ok = True
    while not stop.is_set():
        worked = False
        now = time.monotonic()
        for duty in duties:
            if (duty.next_at > now and not once) or stop.is_set():
                continue
            try:
                n, full = duty.run()
            except Exception as e:  # noqa: BLE001 (one duty's failure never stops the others)
                db.session.rollback()
                duty.failures += 1
                duty.next_at = time.monotonic() + min(duty.every * 2 ** duty.failures, MAX_BACKOFF)
                log(f"worker: {duty.name} failed ({type(e).__name__}: {e}); again in {duty.next_at - now:.0f} s")
                ok = False
                continue
            finally:
                db.session.remove()
            duty.failures = 0
            duty.done += n
            worked = worked or n > 0
            if n:
                log(f"worker: {duty.name}: {n}")
            duty.next_at = now if full else now + duty.every
        if once:
            if not worked or not ok:
                break
            continue
        wait = min(d.next_at for d in duties) - time.monotonic()
        if wait > 0:
            stop.wait(wait)
    return ok
