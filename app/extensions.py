"""Extensions, created unbound and wired to the app in create_app."""
from flask import current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from app.api.errors import JsonApi, is_outage
from app.cache import Caches
from app.ledger import Ledger
from app.metrics import Metrics
from app.ratelimits import RateLimits
from app.services.geo import GeoReader


class Base(DeclarativeBase):
    pass


class Database(SQLAlchemy):
    """Flask-SQLAlchemy, whose end-of-request cleanup survives a database that went away after the
    request's last statement (a PostgreSQL restart): what the request did is done and answered."""

    def init_app(self, app):
        super().init_app(app)
        # registered after Flask-SQLAlchemy's own teardown, so it runs first (Flask runs them last first)
        app.teardown_appcontext(self._release_session)

    def _release_session(self, exc):
        """Close the session. Rolling back a transaction whose connection is lost fails, but the
        server ended that transaction with the connection (and SQLAlchemy has discarded it): logged,
        not turned into a 500 that would hide the answer, a 201 for a stored write included."""
        try:
            self.session.remove()
        except Exception as e:
            if not is_outage(e):
                raise
            current_app.logger.warning("the session's connection was lost before it was released: %s", e)
            self.session.remove()  # it is closed now: this only forgets it


class DashboardLogin(LoginManager):
    """Flask-Login for the dashboard, without its remember-me hook: that after_request reads the
    session of every answer, which adds `Vary: Cookie` to the API's and the widget's (and the
    dashboard offers no remember-me). The dashboard's templates get `current_user` from its
    blueprint (app/admin/__init__.py)."""

    def init_app(self, app, add_context_processor=False):
        app.login_manager = self


db = Database(model_class=Base)
migrate = Migrate()
api = JsonApi()
geo = GeoReader()
caches = Caches()
ledger = Ledger()
rate_limits = RateLimits()
metrics = Metrics()
login_manager = DashboardLogin()  # the dashboard's sessions (app/admin/session.py)
csrf = CSRFProtect()  # checked on the admin blueprint only (WTF_CSRF_CHECK_DEFAULT is off)
