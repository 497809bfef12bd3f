"""The dashboard as production serves it: over https, its cookie Secure, its forms posted only
from its own pages (Flask-WTF checks the Referer of an https POST; the pages send it to our origin)."""
import pytest

from app import create_app
from app.services.keyring import new_master_key
from tests.admin.conftest import PASSWORD, Dashboard


@pytest.fixture
def production(app, monkeypatch):
    """A production app on the test database (its own rate limits, its own master key)."""
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-of-some-length")
    monkeypatch.setenv("OPSIQ_MASTER_KEY", new_master_key())
    return create_app({"OPSIQ_ENV": "production", "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "TRUSTED_PROXIES": 1, "CACHE_CHANNEL": "", "SITE_CACHE_SECONDS": 0})


def test_production_cookie_is_secure_and_https_posts_need_our_referer(production, make_user):
    email = make_user("owner")
    d = Dashboard(production)
    d.client.environ_base.update(HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="consent.example")
    page = d.get("/admin/login")
    assert page.headers["Referrer-Policy"] == "same-origin" and "Strict-Transport-Security" in page.headers
    r = d.submit("/admin/login", email=email, password=PASSWORD)  # no Referer: refused
    assert r.status_code == 400
    r = d.submit("/admin/login", headers={"Referer": "https://elsewhere.example/admin/login"}, email=email,
                 password=PASSWORD)
    assert r.status_code == 400
    r = d.submit("/admin/login", headers={"Referer": "https://consent.example/admin/login"}, email=email,
                 password=PASSWORD)
    assert r.status_code == 302
    [cookie] = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("opsiq_session=")]
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert d.get("/admin/").status_code == 200
