"""Configuration from the environment; production refuses to start without its secrets."""
import pytest

from app import ConfigError, create_app


def test_production_refuses_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSIQ_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})


def test_environment_names_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite")
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    monkeypatch.setenv("GEOIP_DATABASE", "/nonexistent.mmdb")
    monkeypatch.setenv("DEMO_SITE_KEY", "demo-from-env")
    monkeypatch.setenv("OPSIQ_HOT_PATHS", "0")
    monkeypatch.setenv("OPSIQ_LEDGER_SEAL_INTERVAL", "0")
    monkeypatch.setenv("OPSIQ_SITE_CACHE_SECONDS", "60")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/3")
    monkeypatch.setenv("OPSIQ_CACHE_CHANNEL", "")
    monkeypatch.setenv("OPSIQ_GROUP_COMMIT", "0")
    monkeypatch.setenv("OPSIQ_HOT_CONNECTIONS", "3")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite")
    assert app.config["TRUSTED_PROXIES"] == 2 and app.config["GEOIP_DATABASE"] == "/nonexistent.mmdb"
    assert app.config["DEMO_SITE_KEY"] == "demo-from-env"
    assert app.config["HOT_PATHS"] is False and app.config["LEDGER_SEAL_INTERVAL"] == 0
    assert app.config["SITE_CACHE_SECONDS"] == 60 and app.config["REDIS_URL"] == "redis://cache.internal:6379/3"
    assert app.config["CACHE_CHANNEL"] == ""  # set but empty: no channel at all
    assert app.config["GROUP_COMMIT"] is False and app.config["HOT_CONNECTIONS"] == 3


def test_each_app_has_a_ledger_of_its_own_as_configured():
    """On PostgreSQL: the connections bound and group commit as configured, each app its own."""
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # never connected to
    one = create_app({"SQLALCHEMY_DATABASE_URI": url, "HOT_CONNECTIONS": 3, "GROUP_COMMIT": False})
    other = create_app({"SQLALCHEMY_DATABASE_URI": url})
    first, second = one.extensions["ledger"], other.extensions["ledger"]
    assert first.connections.max_open == 3 and first.writes is None and first.lookups is not None
    assert second.connections.max_open == 8 and second.writes is not None
    assert second.connections is not first.connections and second.lookups is not first.lookups


def test_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("OPSIQ_ENV", "staging")
    with pytest.raises(ConfigError, match="OPSIQ_ENV"):
        create_app()


def test_what_gunicorn_loads_is_production_unless_told_otherwise(tmp_path):
    """wsgi.py without OPSIQ_ENV refuses to start without its secrets; with development it starts."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k not in ("OPSIQ_ENV", "SECRET_KEY", "OPSIQ_MASTER_KEY")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/w.sqlite"
    run = lambda extra: subprocess.run([sys.executable, "-c", "import wsgi; print(wsgi.app.config['OPSIQ_ENV'])"],
                                       cwd=root, env={**env, **extra}, capture_output=True, text=True, timeout=60)
    refused = run({})
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr
    assert run({"OPSIQ_ENV": "development"}).stdout.strip() == "development"


def test_production_takes_the_session_secret_from_the_environment_only(monkeypatch, tmp_path):
    """SECRET_KEY signs the dashboard's sessions: in production it comes from the environment, never from
    code, and the session cookie cannot be made to travel over plain http."""
    from app.services.keyring import new_master_key

    monkeypatch.setenv("OPSIQ_ENV", "production")
    monkeypatch.setenv("OPSIQ_MASTER_KEY", new_master_key())
    monkeypatch.delenv("SECRET_KEY", raising=False)
    db = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"}
    with pytest.raises(ConfigError, match="SECRET_KEY must be set in the environment"):
        create_app({**db, "SECRET_KEY": "a-long-secret-written-in-code-somewhere"})
    monkeypatch.setenv("SECRET_KEY", "a-long-enough-production-secret")
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SECURE"):
        create_app({**db, "SESSION_COOKIE_SECURE": False})
    app = create_app(db)
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["SESSION_COOKIE_PATH"] == "/admin"
    monkeypatch.setenv("OPSIQ_ENV", "development")
    monkeypatch.setenv("OPSIQ_ADMIN_IDLE_MINUTES", "5")
    app = create_app(db)
    assert app.config["SESSION_COOKIE_SECURE"] is False and app.config["ADMIN_IDLE_MINUTES"] == 5
