"""What the metrics (app/metrics.py) add to each request, timed alone: the front door's (two clock
reads, one counter increment, one histogram observation) and Flask's hooks (a stamp, the status, the
count at teardown), with one registry per app and in prometheus_client's multiprocess mode, as the
gunicorn workers run it. Prints nanoseconds per request; `python bench/metrics_cost.py`.

Multiprocess mode is picked when prometheus_client is first imported, so that half runs in a child
process started with PROMETHEUS_MULTIPROC_DIR set.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 200_000


def best(stmt, number=N, repeat=5):
    """Nanoseconds per call of the fastest of `repeat` runs (the least disturbed on a shared machine)."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e9


def measure():
    from time import perf_counter

    from flask import Response

    from app import create_app
    from app.metrics import EXTENSION, meter_for

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "CACHE_CHANNEL": ""})
    write, check = meter_for(app, "POST", "/api/v1/consents"), meter_for(app, "POST", "/api/v1/consent-checks")

    def front_door_write():
        started = perf_counter()
        write.answered(201, perf_counter() - started)

    def front_door_check():
        started = perf_counter()
        check.answered(200, perf_counter() - started)

    def nothing():
        started = perf_counter()
        return perf_counter() - started  # the two clock reads alone

    state, response = app.extensions[EXTENSION], Response("{}")

    def flask_hooks():
        state.started()
        state.answered(response)
        state.finished(None)

    with app.test_request_context("/healthz"):
        hooks = best(flask_hooks, N // 2)
    return {"front door, write (201)": best(front_door_write), "front door, check (200)": best(front_door_check),
            "  of which the two clock reads": best(nothing), "Flask hooks, GET /healthz": hooks}


def main():
    if os.environ.get("METRICS_COST_CHILD"):
        for name, ns in measure().items():
            print(f"{name:32} {ns:7.0f} ns")
        return
    env = dict(os.environ, METRICS_COST_CHILD="1", PYTHONPATH=ROOT)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    print("one registry per app (flask run, tests):")
    subprocess.run([sys.executable, __file__], env=env, check=True)
    directory = tempfile.mkdtemp(prefix="opsiq-metrics-cost-")
    try:
        print("multiprocess mode (gunicorn workers):")
        subprocess.run([sys.executable, __file__], env={**env, "PROMETHEUS_MULTIPROC_DIR": directory}, check=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
