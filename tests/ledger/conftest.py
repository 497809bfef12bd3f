"""Fixtures for the ledger's own tests: drafts made by name, and each repository to hold to the contract."""
import datetime as dt
import os
import uuid

import pytest

from app.extensions import db, ledger
from app.ledger.records import Draft
from app.services.sites.snapshot import site_snapshot

POSTGRES = "postgresql" in os.environ.get("TEST_DATABASE_URL", "")


def make_draft(snap, visitor_id=None, method="custom", decisions=None, **overrides):
    """A draft for a site snapshot, as record_consent makes one from a widget's request."""
    values = {
        "record_id": str(uuid.uuid4()), "site_id": snap.id, "visitor_id": visitor_id or "v-" + uuid.uuid4().hex[:16],
        "client_record_id": str(uuid.uuid4()), "method": method,
        "decisions": {"necessary": True, "analytics": True, "marketing": False, "preferences": False}
        if decisions is None else decisions,
        "config_hash": snap.config_hash, "policy_version": "1", "policy_url": "https://shop.example/privacy",
        "language": "en", "regime": "opt_in", "country": "DE", "region": "DE-BE", "geoip_build": dt.date(2018, 7, 3),
        "ip_truncated": "81.169.145.0", "user_agent": "Mozilla/5.0 test", "page_url": "https://shop.example/p",
        "gpc": method == "gpc", "source": "browser", "secret_hash": None, "widget_build": None, "validity": dt.timedelta(days=180),
        "necessary": frozenset(p["slug"] for p in snap.purposes if p["legal_basis"] == "necessary"),
    }
    values.update(overrides)
    return Draft(**values)


@pytest.fixture
def snap(app, site):
    """The snapshot of a new site, inside an app context for the rest of the test."""
    with app.app_context():
        yield site_snapshot(site[0], 0)


@pytest.fixture(params=["portable", "postgres"])
def repository(request, app, snap):
    """Each repository on the test database: the portable one always, the PostgreSQL one on PostgreSQL."""
    from app.ledger.portable import PortableRepository

    if request.param == "portable":
        return PortableRepository(db.engine)
    if not POSTGRES:
        pytest.skip("the PostgreSQL repository needs TEST_DATABASE_URL on PostgreSQL")
    return ledger.state.repository
