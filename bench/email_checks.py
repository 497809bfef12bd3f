"""Benchmark: the email consent batch check for 10,000 addresses (server time, in process).

    .venv/bin/python bench/email_checks.py [--sqlite]

A fresh PostgreSQL database (as bench/run.py makes it; or a temporary SQLite file with
--sqlite), migrated; a site with 10,000 addresses on file (a third confirmed by double opt-in, a
third single opt-in, a third withdrawn); then `POST /api/v1/consent-checks/batch` with 10,000
email items (half known, half not) is timed through the WSGI app, best and median of 7 runs.
Target: under 250 ms.
"""
import base64
import datetime as dt
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    use_sqlite = "--sqlite" in sys.argv
    drop = None
    if use_sqlite:
        url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.sqlite")
    else:
        from bench.run import PG_URL, create_database, drop_database

        name = create_database()
        url = "postgresql+psycopg" + PG_URL.split("postgresql", 1)[1].rsplit("/", 1)[0] + "/" + name
        drop = lambda: drop_database(name)  # noqa: E731
    os.environ.update(OPSIQ_ENV="production", SECRET_KEY=secrets.token_urlsafe(32), DATABASE_URL=url,
                      OPSIQ_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    try:
        import sqlalchemy as sa
        from flask_migrate import upgrade

        from app import create_app
        from app.extensions import db
        from app.models import EmailConsentState, EmailSuppression
        from app.services.keyring import keyring
        from app.services.sites.administration import create_site

        app = create_app()
        with app.app_context():
            upgrade()
            site, api_key = create_site("Bench", ["https://bench.example"])
            ring = keyring(site.id)
            now = dt.datetime.now(dt.timezone.utc)
            states, sups = [], []
            for i in range(10_000):
                h = ring.email_hash(f"person{i}@bench.example")
                kind = i % 3
                states.append({"site_id": site.id, "email_hash": h, "email_enc": None,
                               "status": "withdrawn" if kind == 2 else "confirmed",
                               "basis": ("double_opt_in", "single_opt_in", "none")[kind],
                               "submission_record_id": str(uuid.uuid4()),
                               "confirmation_record_id": str(uuid.uuid4()) if kind == 0 else None,
                               "withdrawal_record_id": str(uuid.uuid4()) if kind == 2 else None,
                               "given_at": now, "confirmed_at": now if kind == 0 else None,
                               "withdrawn_at": now if kind == 2 else None, "updated_at": now})
                if kind == 2:
                    sups.append({"site_id": site.id, "email_hash": h, "withdrawal_record_id": str(uuid.uuid4()),
                                 "suppressed_at": now})
            db.session.execute(sa.insert(EmailConsentState.__table__), states)
            db.session.execute(sa.insert(EmailSuppression.__table__), sups)
            db.session.commit()
        items = [{"email": f"person{i * 2}@bench.example", "purpose": "email_marketing"} for i in range(10_000)]
        body = json.dumps({"items": items})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            r = client.post("/api/v1/consent-checks/batch", data=body, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.get_data(as_text=True)[:300]
        results = r.get_json()["results"]
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            cProfile.runctx("client.post('/api/v1/consent-checks/batch', data=body, headers=headers)",
                            globals(), locals(), "/tmp/email_check.prof")
            pstats.Stats("/tmp/email_check.prof").sort_stats("tottime").print_stats(14)
        allowed = sum(1 for x in results if x["allowed"])
        print(f"email batch check, 10,000 addresses ({'SQLite' if use_sqlite else 'PostgreSQL'}): "
              f"best {min(times):.0f} ms, median {statistics.median(times):.0f} ms "
              f"({allowed} allowed); target < 250 ms")
    finally:
        if drop:
            drop()


if __name__ == "__main__":
    main()
