"""OpsIQ Consent: the application factory."""
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Config, env_overrides


class ConfigError(RuntimeError):
    """The app cannot start with this configuration."""


def create_app(config=None, default_env="development"):
    """Build the app: defaults, then the environment, then `config`; wire extensions and routes.

    `default_env` is the OPSIQ_ENV used when the environment names none: what gunicorn loads
    (wsgi.py) says production, so a server started without OPSIQ_ENV refuses to run without its
    secrets instead of running on development defaults (SSRF check off, demo pages on)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(__name__, instance_relative_config=True, static_folder=os.path.join(root, "static"),
                instance_path=os.environ.get("OPSIQ_INSTANCE") or os.path.join(root, "instance"))
    app.config.from_object(Config)
    app.config["OPSIQ_ENV"] = default_env
    app.config.update(env_overrides())
    if config:
        app.config.update(config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "opsiq.sqlite")
    if app.config.get("SESSION_COOKIE_SECURE") is None:  # the dashboard's cookie: https only in production
        app.config["SESSION_COOKIE_SECURE"] = app.config["OPSIQ_ENV"] == "production"
    check_production(app.config)

    from app.api import front_door
    from app.extensions import db, metrics

    metrics.init_app(app, db)  # before the front door and the ledger, which take their instruments from it
    front_door.install(app)  # the two busiest routes straight to their handlers, ahead of Flask
    if app.config["TRUSTED_PROXIES"]:
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from app import models  # noqa: F401  (tables must be known before migrate)
    from app.extensions import api, caches, db, geo, ledger, migrate, rate_limits

    db.init_app(app)
    caches.init_app(app, db)
    ledger.init_app(app)  # after db: it uses the app's engine
    migrate.init_app(app, db, directory=os.path.join(root, "migrations"), render_as_batch=True)
    geo.init_app(app)
    rate_limits.init_app(app)
    api.init_app(app)

    from app.api import audit, browser, collectors, email_consents, identities, scans, stats, subjects
    from app.api import webhooks as webhooks_api

    for blp in (audit.blp, browser.blp, identities.blp, email_consents.blp, webhooks_api.blp, collectors.blp,
                subjects.blp, stats.blp, scans.blp):
        api.register_blueprint(blp)
    from app.api.auth import register_security
    from app.api.parsing import refuse_unstorable_url_values

    app.before_request(refuse_unstorable_url_values)
    from app.api.replies import security_headers

    extra = security_headers(app.config)

    @app.after_request
    def add_security_headers(response):
        """nosniff on every answer (and HSTS in production), as the front door adds them."""
        for name, value in extra:
            response.headers.setdefault(name, value)
        return response

    register_security(api)

    from app import wellknown

    app.register_blueprint(wellknown.bp)
    from app import demo, embed

    app.register_blueprint(embed.bp)
    app.register_blueprint(demo.bp)
    from app import docs, links

    app.register_blueprint(links.bp)
    app.register_blueprint(docs.bp)
    from app import admin

    admin.init_app(app)  # the dashboard: its blueprint, sessions (Flask-Login), CSRF on its own routes only

    from app import cli

    cli.init_app(app)
    return app


def check_production(config):
    """Production refuses to start on the development secret or without one, and with a session
    cookie that could travel over plain http.

    SECRET_KEY signs the dashboard's sessions (whoever knows it can sign in as anyone) and keys
    the rate limiters' hashes: in production it must come from the environment, not from code."""
    if config.get("OPSIQ_ENV") not in ("development", "production"):
        raise ConfigError("OPSIQ_ENV must be `development` or `production`")
    if config["OPSIQ_ENV"] == "production":
        if not os.environ.get("SECRET_KEY"):
            raise ConfigError("SECRET_KEY must be set in the environment when OPSIQ_ENV=production")
        if config.get("SECRET_KEY") == Config.SECRET_KEY or len(config.get("SECRET_KEY") or "") < 16:
            raise ConfigError("SECRET_KEY is too short or the development default")
        if not config.get("SESSION_COOKIE_SECURE"):
            raise ConfigError("SESSION_COOKIE_SECURE cannot be off when OPSIQ_ENV=production (https sessions only)")
        from app.services.keyring import KeyringError, parse_master_key

        if not config.get("OPSIQ_MASTER_KEY"):
            raise ConfigError("OPSIQ_MASTER_KEY must be set in the environment when OPSIQ_ENV=production")
        if config.get("METRICS_TOKEN") and len(config["METRICS_TOKEN"]) < 16:
            raise ConfigError("METRICS_TOKEN is too short (16 characters at least)")
        try:
            parse_master_key(config["OPSIQ_MASTER_KEY"])
        except KeyringError as e:
            raise ConfigError(f"OPSIQ_MASTER_KEY: {e}") from None
