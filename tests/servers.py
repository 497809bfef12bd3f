"""The app as production runs it, for tests: gunicorn with gunicorn.conf.py (gevent workers), and
the real `flask` command, each a process of its own on the test app's database."""
import base64
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import pytest

from app.services.keyring import master_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def production_env(app, **env):
    """The environment of a process serving the test app's database, with its master key (the test
    app made the sites' keyrings). PYTHONPATH and the rest of the caller's environment carry over."""
    with app.app_context():
        master = base64.b64encode(master_key()).decode()
    out = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], OPSIQ_ENV="development",
               SECRET_KEY="test-secret-key-for-gunicorn", OPSIQ_MASTER_KEY=master, TRUSTED_PROXIES="1",
               FLASK_APP="wsgi.py", **env)
    out.pop("OPSIQ_INSTANCE", None)
    return out


@contextmanager
def serve_gunicorn(app, workers=2, **env):
    """gunicorn serving the app on a free loopback port; yields its base URL. Fails if a worker
    printed a traceback by the time it stops."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = production_env(app, OPSIQ_BIND=f"127.0.0.1:{port}", OPSIQ_WORKERS=str(workers), **env)
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "wsgi:app"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("gunicorn did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
            time.sleep(0.2)
    try:
        yield base
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in out, out[-3000:]


def flask_command(app, *args, **env):
    """Run `flask ARGS...` in a process of its own; returns its output, failing on a non-zero exit."""
    done = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=production_env(app, **env),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr
