"""Profile the write and check paths in process (cProfile), against the PostgreSQL in BENCH_PG_URL.

    .venv/bin/python bench/profile_write.py [write|check|hello] [N]     # PROFILE=0: time only

Prints the top functions by cumulative and by own time, so the hot path can be read before it is
changed. The WSGI app is called directly (no HTTP server), with the production configuration.
"""
import base64
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.run import PG_URL, create_database, drop_database  # noqa: E402


class DirectClient:
    """The two test-client calls used below, made straight on the WSGI callable with a prebuilt environ."""

    class Result:
        def __init__(self, status, body):
            self.status_code, self.body = status, body

        def get_data(self, as_text=False):
            return self.body.decode() if as_text else self.body

    def __init__(self, app):
        from werkzeug.test import EnvironBuilder

        self.app, self.builder = app, EnvironBuilder

    def _call(self, method, path, data=b"", headers=None):
        env = self.builder(path=path, method=method, data=data, headers=headers or {},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
        started = []
        body = b"".join(self.app(env, lambda status, hdrs, exc=None: started.append(status)))
        return self.Result(int(started[0].split()[0]), body)

    def post(self, path, data=None, json=None, headers=None):
        import json as _json

        raw = data.encode() if isinstance(data, str) else (_json.dumps(json).encode() if json is not None else b"")
        headers = dict(headers or {})
        if json is not None:
            headers["Content-Type"] = "application/json"
        return self._call("POST", path, raw, headers)

    def get(self, path, headers=None):
        return self._call("GET", path, b"", headers)


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "write"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    dbname = create_database()
    url = "postgresql+psycopg" + PG_URL.split("postgresql", 1)[1].rsplit("/", 1)[0] + "/" + dbname
    os.environ.update(OPSIQ_ENV="production", SECRET_KEY=secrets.token_urlsafe(32), TRUSTED_PROXIES="1",
                      DATABASE_URL=url, OPSIQ_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    try:
        from flask_migrate import upgrade

        from app import create_app
        from app.services.sites.administration import create_site

        app = create_app()
        with app.app_context():
            upgrade()
            site, api_key = create_site("Profile", ["https://bench.example"])
            site_key = site.site_key
        client = app.test_client()
        if os.environ.get("DIRECT") == "1":  # call the WSGI app itself: no test-client overhead
            client = DirectClient(app)

        def write(i):
            body = {"site_key": site_key, "visitor_id": f"bench-v-{i % 500}",
                    "visitor_secret": f"bench-visitor-secret-{i % 500}", "client_record_id": str(uuid.uuid4()),
                    "decisions": {"analytics": True, "marketing": False}, "method": "custom", "language": "en",
                    "page_url": f"https://bench.example/p/{i}"}
            return client.post("/api/v1/consents", data=json.dumps(body), headers={
                "Content-Type": "text/plain", "X-Forwarded-For": f"81.169.{i % 250}.7", "Origin": "https://bench.example"})

        def check(i):
            return client.post("/api/v1/consent-checks", json={"visitor_id": f"bench-v-{i % 500}", "purpose": "analytics"},
                               headers={"Authorization": f"Bearer {api_key}"})

        def hello(i):
            return client.get("/healthz")

        fn = {"write": write, "check": check, "hello": hello}[kind]
        for i in range(200):  # warm up, and give checks something to find
            r = write(i)
            assert r.status_code in (200, 201), r.get_data(as_text=True)
        prof = cProfile.Profile(time.process_time) if os.environ.get("PROFILE", "1") == "1" else None
        t, cpu = time.perf_counter(), time.process_time()
        prof and prof.enable()
        for i in range(n):
            fn(i)
        prof and prof.disable()
        took, cpu = time.perf_counter() - t, time.process_time() - cpu
        print(f"{kind}: {n} calls, {took / n * 1000:.3f} ms per call, {cpu / n * 1000:.3f} ms of this process's CPU"
              + (" under the profiler" if prof else ""))
        for key in (("cumulative", "tottime") if prof else ()):
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats(key).print_stats(35)
            print(s.getvalue())
        for name in filter(None, os.environ.get("CALLEES", "").split(",")):  # e.g. CALLEES=create_consent
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumulative").print_callees(name)
            print(s.getvalue())
    finally:
        from app.extensions import db

        with app.app_context():
            db.engine.dispose()
        drop_database(dbname)


if __name__ == "__main__":
    main()
