"""Migrations that move data: what a database had before is there after, where it now belongs."""
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db


def test_the_double_opt_in_default_moves_from_the_keyring_to_the_site(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.sqlite",
                      "CACHE_CHANNEL": ""})
    with app.app_context():
        upgrade(revision="0004_client_record_key_order")
        with db.engine.begin() as conn:
            for site_id, key in ((1, "single"), (2, "double"), (3, "nokeyring")):
                conn.execute(sa.text("INSERT INTO sites (id, site_key, name, origins, default_language, languages,"
                                     " texts, retention_days, consent_validity_days, regime_overrides, uses_google,"
                                     " created_at) VALUES (:id, :k, :k, '[]', 'en', '[\"en\"]', '{}', 395, 180, '{}',"
                                     " 1, '2026-01-01 00:00:00')"), {"id": site_id, "k": key})
            for site_id, on in ((1, False), (2, True)):
                conn.execute(sa.text("INSERT INTO site_keyrings (site_id, wrapped, master_fingerprint, double_opt_in,"
                                     " created_at) VALUES (:s, 'x', 'fp', :on, '2026-01-01 00:00:00')"),
                             {"s": site_id, "on": on})
        upgrade()
        with db.engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT site_key, email_double_opt_in FROM sites")).all())
        assert rows == {"single": False, "double": True, "nokeyring": True}
        downgrade(revision="0004_client_record_key_order")
        with db.engine.connect() as conn:
            back = dict(conn.execute(sa.text("SELECT site_id, double_opt_in FROM site_keyrings")).all())
        assert back == {1: False, 2: True}
        db.engine.dispose()
