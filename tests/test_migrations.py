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


def test_the_ledger_integrity_columns_and_tables_come_and_go(tmp_path):
    """0007 adds the personal digest, erasure and seal MAC columns and the erasure and checkpoint
    tables to a ledger that has records and seals, which keep every value; downgrade removes them."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.sqlite",
                      "CACHE_CHANNEL": ""})
    with app.app_context():
        upgrade(revision="0006_consent_visitor_secret")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO sites (id, site_key, name, origins, default_language, languages, texts,"
                                 " retention_days, consent_validity_days, regime_overrides, uses_google, created_at,"
                                 " email_double_opt_in) VALUES (1, 'k', 'k', '[]', 'en', '[\"en\"]', '{}', 395, 180,"
                                 " '{}', 1, '2026-01-01 00:00:00', 1)"))
            conn.execute(sa.text("INSERT INTO ledger_seals (site_id, seq, first_id, last_id, record_count, entries,"
                                 " covers_until, prev_hash, seal_hash, sealed_at) VALUES (1, 1, 1, 1, 1, '[[1, \"h\"]]',"
                                 " '2026-01-01 00:00:00', 'p', 's', '2026-01-01 00:00:00')"))
        upgrade()
        inspector = sa.inspect(db.engine)
        assert {"personal_salt", "personal_digest", "erased_at"} <= {c["name"] for c in inspector.get_columns(
            "consent_records")}
        assert {"ledger_erasures", "ledger_checkpoints"} <= set(inspector.get_table_names())
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT seal_hash, mac FROM ledger_seals")).one() == ("s", None)
        downgrade(revision="0006_consent_visitor_secret")
        inspector = sa.inspect(db.engine)
        assert "mac" not in {c["name"] for c in inspector.get_columns("ledger_seals")}
        assert "ledger_erasures" not in inspector.get_table_names()
        db.engine.dispose()


def test_the_users_tables_come_and_go(tmp_path):
    """0011 adds the dashboard's users, their site grants and the installation settings; downgrade
    removes them and leaves the sites."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.sqlite",
                      "CACHE_CHANNEL": ""})
    tables = {"users", "user_sites", "installation_settings"}
    with app.app_context():
        upgrade(revision="0010_side_chains")
        assert not tables & set(sa.inspect(db.engine).get_table_names())
        upgrade(revision="0011_users")
        assert tables <= set(sa.inspect(db.engine).get_table_names())
        assert {"email", "password_hash", "role", "all_sites", "disabled", "totp_secret", "session_version",
                "last_sign_in_at"} <= {c["name"] for c in sa.inspect(db.engine).get_columns("users")}
        downgrade(revision="0010_side_chains")
        names = set(sa.inspect(db.engine).get_table_names())
        assert not tables & names and "sites" in names
        db.engine.dispose()


def test_the_rollup_tables_come_and_go_as_the_models_declare_them(tmp_path):
    """0014 adds the statistics rollups and their marks, as app/models/stats.py declares them
    (columns, types, primary keys); downgrade removes them and leaves the ledger as it was."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.sqlite",
                      "CACHE_CHANNEL": ""})
    tables = {"consent_rollups", "consent_purpose_rollups", "consent_rollup_marks"}
    with app.app_context():
        upgrade(revision="0013_site_sightings")
        assert not tables & set(sa.inspect(db.engine).get_table_names())
        upgrade()
        assert tables <= set(sa.inspect(db.engine).get_table_names())
        with db.engine.connect() as conn:
            drift = [d for d in compare_metadata(MigrationContext.configure(conn), db.metadata)
                     if any(name in repr(d) for name in tables)]
        assert drift == []
        pk = sa.inspect(db.engine).get_pk_constraint("consent_purpose_rollups")["constrained_columns"]
        assert pk == ["site_id", "span", "day", "country", "region", "policy_version", "regime", "method", "gpc",
                      "purpose"]
        downgrade(revision="0013_site_sightings")
        assert not tables & set(sa.inspect(db.engine).get_table_names())
        assert "consent_records" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()
