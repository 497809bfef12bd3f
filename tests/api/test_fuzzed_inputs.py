"""What schemathesis found (tests/api/test_schemathesis.py), each pinned by the input that showed it.

URLs that the URL parser refuses with a ValueError (an unbalanced bracket in the host, characters
that NFKC folds into a delimiter) were 500s; 0 and 1 passed as booleans, because they equal False
and True in Python; a 500 could not even be rendered in the one error shape.
"""
import json

import pytest

from app import create_app
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"
UNPARSEABLE = ["http://[", "https://shop.example]/", "http://\uff03x/", "http://shop.example/ a", "ftp://shop.example/"]


@pytest.mark.parametrize("hot_paths", [True, False])
@pytest.mark.parametrize("page_url", UNPARSEABLE)
def test_a_page_url_the_parser_refuses_is_a_422(app, client, site, page_url, hot_paths):
    app.config["HOT_PATHS"] = hot_paths
    try:
        r = client.post("/api/v1/consents", data=json.dumps(make_consent(site[0], page_url=page_url)),
                        content_type="text/plain", headers=from_ip(IPS["DE"], Origin=ORIGIN))
    finally:
        app.config["HOT_PATHS"] = True
    assert r.status_code == 422 and r.json["errors"] == {"page_url": ["must be an http(s) URL"]}


@pytest.mark.parametrize("url", UNPARSEABLE)
def test_a_webhook_url_the_parser_refuses_is_a_422(client, site_ctx, url):
    r = client.post("/api/v1/webhooks", json={"url": url, "events": ["consent.recorded"]}, headers=site_ctx[2])
    assert r.status_code == 422 and list(r.json["errors"]) == ["url"]


@pytest.mark.parametrize("path, body", [
    ("/api/v1/consent-checks", {"visitor_id": "visitor-0001", "purpose": "analytics", "gpc": 0}),
    ("/api/v1/consent-checks/batch", {"items": [{"visitor_id": "visitor-0001", "purpose": "analytics", "gpc": 1}]}),
    ("/api/v1/email-consents", {"email": "jane@shop.example", "source": "s", "wording": "w", "language": "en",
                                "double_opt_in": 0}),
])
def test_a_number_is_no_boolean(client, site_ctx, path, body):
    r = client.post(path, json=body, headers=site_ctx[2])
    assert r.status_code == 422 and r.json["code"] == 422, r.json


def test_a_consent_with_gpc_1_is_refused(client, site):
    r = client.post("/api/v1/consents", json=make_consent(site[0], gpc=1), headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 422 and list(r.json["errors"]) == ["gpc"]


def test_a_bug_is_a_500_in_the_one_error_shape(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite",
                      "SERVER_NAME": None, "CACHE_CHANNEL": ""})

    @app.get("/api/v1/broken")
    def broken():
        raise RuntimeError("a bug")

    r = app.test_client().get("/api/v1/broken")
    assert r.status_code == 500
    assert r.json == {"code": 500, "status": "Internal Server Error", "message": "Internal error; it has been logged."}
