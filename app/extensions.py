"""Extensions, created unbound and wired to the app in create_app."""
from flask import current_app
from flask_migrate import Migrate
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


db = Database(model_class=Base)
migrate = Migrate()
api = JsonApi()
geo = GeoReader()
caches = Caches()
ledger = Ledger()
rate_limits = RateLimits()
metrics = Metrics()
