"""The write path's own PostgreSQL connection survives the server dropping it."""
import os

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import IPS, from_ip, make_consent

pytestmark = pytest.mark.skipif("postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
                                reason="the hot connection is PostgreSQL's (run with TEST_DATABASE_URL)")


def test_a_write_after_the_connection_was_killed_still_lands(app, client, site):
    site_key, _ = site
    first = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
    assert first.status_code == 201
    with app.app_context():
        # end every other backend of this database, as a PostgreSQL restart would
        killed = db.session.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        db.session.commit()
    assert killed >= 1
    body = make_consent(site_key)
    r = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"]))
    assert r.status_code == 201, r.json
    again = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"]))
    assert again.status_code == 200 and again.json["record_id"] == r.json["record_id"]
