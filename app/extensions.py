"""Extensions, created unbound and wired to the app in create_app."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from app.api.errors import JsonApi
from app.cache import Caches
from app.ledger import Ledger
from app.metrics import Metrics
from app.ratelimits import RateLimits
from app.services.geo import GeoReader


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = JsonApi()
geo = GeoReader()
caches = Caches()
ledger = Ledger()
rate_limits = RateLimits()
metrics = Metrics()
