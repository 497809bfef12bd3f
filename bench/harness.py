"""What the benchmarks share: a PostgreSQL database of their own, the production environment,
`flask` commands, and gunicorn serving `wsgi:app` as the README's production section runs it."""
import base64
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def connect(server_url, dbname=None, autocommit=True):
    """A psycopg connection to `server_url` (postgresql://user@host:port/db), or to another database on it."""
    import psycopg

    url = server_url if dbname is None else server_url.rsplit("/", 1)[0] + "/" + dbname
    return psycopg.connect(url, autocommit=autocommit)


def create_database(server_url, prefix="opsiq_bench"):
    """A new, empty database on the server, named by the time; its name."""
    name = f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}"
    with connect(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(server_url, name):
    with connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_database_url(server_url, dbname):
    """The app's DATABASE_URL (SQLAlchemy, psycopg 3) for a database on the server."""
    return "postgresql+psycopg" + server_url.split("postgresql", 1)[1].rsplit("/", 1)[0] + "/" + dbname


def production_env(database_url):
    """The environment of a production run: OPSIQ_ENV=production with the secrets it requires (fresh
    for each run), one trusted proxy (so X-Forwarded-For places the clients), metrics on (as a
    monitored deployment runs), the database, and none of the caller's REDIS_URL."""
    env = dict(os.environ, FLASK_APP="wsgi.py", DATABASE_URL=database_url, OPSIQ_ENV="production",
               SECRET_KEY=secrets.token_urlsafe(32), TRUSTED_PROXIES="1",
               OPSIQ_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
               METRICS_TOKEN=secrets.token_urlsafe(32))
    env.pop("OPSIQ_INSTANCE", None)
    env.pop("REDIS_URL", None)  # each process on its own unless the benchmark names a Redis
    return env


def flask(env, *args, check=True):
    """Run a `flask` command of the app; its stdout (exit on failure unless check=False: then the
    completed process)."""
    out = subprocess.run([os.path.join(BIN, "flask"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=False)
    if not check:
        return out
    if out.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_ticks(pid):
    """(command, user+system clock ticks) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return st[st.index("(") + 1:st.rindex(")")], int(fields[11]) + int(fields[12])


def cpu_ticks():
    """{pid: (command, user+system clock ticks)} for every process: to split a run's CPU by owner."""
    out = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit() and (ticks := process_ticks(int(pid))) is not None:
            out[int(pid)] = ticks
    return out


class Server:
    """gunicorn serving wsgi:app, as the README's production section runs it."""

    def __init__(self, env, workers, threads=1, worker_class=None, log_file=None):
        """Started and answering /healthz; its output goes to `log_file` (an open file) if given."""
        self.port = free_port()
        self.env = env
        # gunicorn reads the project's gunicorn.conf.py (cwd): production's worker class and hooks
        cmd = [os.path.join(BIN, "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               "--log-level", "warning", "--backlog", "2048", "--timeout", "300"]
        if worker_class:
            cmd += ["-k", worker_class]
        if threads > 1:
            cmd += ["-k", "gthread", "--threads", str(threads)]
        cmd.append("wsgi:app")
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stdout=log_file,
                                     stderr=log_file)
        try:
            self._wait_until_up(30)
        except BaseException:  # not up in time, or the bench interrupted: gunicorn must not outlive it
            self.stop()
            raise

    def _wait_until_up(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        sys.exit("gunicorn did not start")

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False).stdout
        return [int(p) for p in out.split()]

    def peak_rss_mb(self):
        """Largest peak resident set (VmHWM) among the workers, in MB."""
        peaks = []
        for pid in self.worker_pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
                    peaks.append(int(m.group(1)) / 1024)
            except OSError:
                pass
        return max(peaks) if peaks else None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
