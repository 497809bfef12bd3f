"""app/api/front_door.py: the two busiest routes dispatched to their one handler ahead of Flask.

What must hold: the fast validators accept only what the schemas accept, with the same result;
the ordinary requests, and the refused ones, are answered there without Flask (else the
benchmark measures nothing, and a refused request would run twice); and every answer is the one
the Flask view gives for the same request, status, body and headers.
"""
import itertools
import json
import random
import uuid

import pytest
from marshmallow import ValidationError

from app.api import front_door
from app.api.browser import consent_answer
from app.schemas.checks import ConsentCheckIn, fast_check_input
from app.schemas.consent import ConsentIn, ConsentOut, fast_consent_input
from app.services.consent import Recorded
from app.services.sites.snapshot import site_snapshot
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"
GOOD = make_consent("k" * 20)

# values that are right for some field and wrong for others, to mix into bodies
ODD = [None, True, False, 0, 1, 1.5, "", "x", "é" * 3, "a" * 65, "a" * 2049, [], {}, {"a": 1}, {"a": True},
       "https://shop.example/x", "ftp://shop.example", "//shop.example/x", "accept_all", "api", "custom",
       str(uuid.uuid4()), str(uuid.uuid4()).upper(), uuid.uuid4().hex, "v-12345678", "v 1234567", "1"]


def mutations(base, fields):
    rnd = random.Random(7)
    yield dict(base)
    for name in list(base) + ["extra"]:
        missing = dict(base)
        missing.pop(name, None)
        yield missing
        for value in ODD:
            yield {**base, name: value}
    for _ in range(3000):  # several fields wrong at once
        body = dict(base)
        for name in rnd.sample(fields, rnd.randint(1, 3)):
            body[name] = rnd.choice(ODD)
        yield body


def schema_result(schema, body):
    try:
        return schema.load(body)
    except ValidationError:
        return None


def test_consent_input_accepts_only_what_the_schema_accepts_and_loads_it_alike():
    schema = ConsentIn()
    fields = list(GOOD) + ["decisions"]
    accepted = 0
    for body in itertools.chain(mutations(GOOD, fields), mutations({**GOOD, "decisions": {"analytics": False}}, fields)):
        fast = fast_consent_input(body)
        if fast is not None:
            accepted += 1
            assert fast == schema_result(schema, body), body
    assert accepted > 50  # the ordinary shapes do take the hot path


def test_check_input_accepts_only_what_the_schema_accepts_and_loads_it_alike():
    schema = ConsentCheckIn()
    base = {"visitor_id": "v-12345678", "purpose": "analytics"}
    accepted = 0
    email = {"email": "jane@example.com", "purpose": "email_marketing"}
    for body in itertools.chain(mutations(base, ["visitor_id", "purpose", "gpc", "ip", "email"]),
                                mutations({**base, "gpc": True}, ["visitor_id", "purpose", "gpc"]),
                                mutations(email, ["email", "purpose", "visitor_id"])):
        fast = fast_check_input(body)
        if fast is not None:
            accepted += 1
            assert fast == schema_result(schema, body), body
    assert accepted > 20


@pytest.fixture
def flask_calls(app, monkeypatch):
    """The paths of the requests that reached Flask's own WSGI app behind the front door."""
    layer = app.wsgi_app
    while not isinstance(layer, front_door.FrontDoor):
        layer = layer.app  # ProxyFix
    calls = []
    inner = layer.wsgi_app

    def counting(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    monkeypatch.setattr(layer, "wsgi_app", counting)
    return calls


def test_ordinary_write_and_check_never_reach_flask(client, site, flask_calls):
    site_key, api_key = site
    body = make_consent(site_key, visitor_id="v-hot-0001")
    r = client.post("/api/v1/consents", data=json.dumps(body), content_type="text/plain;charset=UTF-8",
                    headers=from_ip(IPS["DE"], Origin=ORIGIN, **{"Sec-GPC": "1"}))
    assert r.status_code == 201 and r.json["decisions"]["marketing"] is False
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN and r.headers["Content-Type"] == "application/json"
    again = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert again.status_code == 200 and again.json["record_id"] == r.json["record_id"]
    c = client.post("/api/v1/consent-checks", json={"visitor_id": "v-hot-0001", "purpose": "analytics"},
                    headers={"Authorization": f"Bearer {api_key}"})
    assert c.status_code == 200 and c.json["allowed"] is True and c.json["record_id"] == r.json["record_id"]
    assert flask_calls == []


CASES = ["unknown_site", "bad_origin", "unknown_purpose", "bad_json", "not_an_object", "no_key", "wrong_key",
         "upper_uuid", "check_with_ip", "unknown_policy", "unknown_field", "email_check"]


def make_request(case, site_key, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    write = dict(path="/api/v1/consents", headers=from_ip(IPS["FR"], Origin=ORIGIN))
    check = dict(path="/api/v1/consent-checks", headers=auth)
    cid = str(uuid.uuid4())
    return {
        "unknown_site": dict(write, json=make_consent("nope-nope")),
        "bad_origin": dict(write, json=make_consent(site_key), headers=from_ip(IPS["FR"], Origin="https://evil.example")),
        "unknown_purpose": dict(check, json={"visitor_id": "v-12345678", "purpose": "telemetry"}),
        "bad_json": dict(write, data=b'{"site_key": ', content_type="text/plain"),
        "not_an_object": dict(check, data=b"[1]", content_type="application/json"),
        "no_key": dict(check, json={"visitor_id": "v-12345678", "purpose": "analytics"}, headers={}),
        "wrong_key": dict(check, json={"visitor_id": "v-12345678", "purpose": "analytics"},
                          headers={"Authorization": "Bearer opsiq_sk_wrongwrongwrong"}),
        "upper_uuid": dict(write, json=make_consent(site_key, client_record_id=cid.upper(), visitor_id="v-upper-01")),
        "check_with_ip": dict(check, json={"visitor_id": "v-12345678", "purpose": "analytics", "ip": IPS["US-CA"]}),
        "unknown_policy": dict(write, json=make_consent(site_key, policy_version="99")),
        "unknown_field": dict(write, json={**make_consent(site_key), "extra": 1}),
        "email_check": dict(check, json={"email": "jane@example.com", "purpose": "email_marketing"}),
    }[case]


@pytest.mark.parametrize("case", CASES)
def test_every_answer_comes_from_the_front_door_as_flask_would_give_it(app, client, site, flask_calls, case):
    site_key, api_key = site
    request = make_request(case, site_key, api_key)
    path = request.pop("path")
    hot = client.post(path, **request)
    assert flask_calls == []  # answered, right or wrong, by the route's handler: once
    app.config["HOT_PATHS"] = False
    try:
        plain = client.post(path, **request)
    finally:
        app.config["HOT_PATHS"] = True
    assert flask_calls == [path]
    headers = lambda r: sorted((k, v) for k, v in r.headers.items() if k not in ("Content-Length", "X-Request-ID"))
    if case == "upper_uuid":  # the same client_record_id again: the first record, from either path
        assert hot.status_code == 201 and plain.status_code == 200 and plain.json["record_id"] == hot.json["record_id"]
    else:
        assert (hot.status_code, hot.json, headers(hot)) == (plain.status_code, plain.json, headers(plain))
    assert len(hot.headers["X-Request-ID"]) == len(plain.headers["X-Request-ID"]) == 32  # each its own
    if case == "check_with_ip":
        assert hot.status_code == 200 and hot.json["regime"] == "opt_out"
    elif case not in ("upper_uuid", "email_check"):
        assert hot.status_code >= 400 and set(hot.json) >= {"code", "status", "message"}


@pytest.mark.parametrize("body", [b"", b'{"site_key": "x"}' * 2000])
def test_a_body_it_cannot_read_whole_goes_to_flask_and_gets_the_same_answer(app, client, flask_calls, body):
    hot = client.post("/api/v1/consents", data=body, content_type="text/plain")
    assert flask_calls == ["/api/v1/consents"]
    assert hot.status_code in (413, 422) and hot.json["code"] == hot.status_code


def test_the_answer_body_is_what_consent_out_dumps(app, client, site):
    """The write's answer is built by hand (a hot path); ConsentOut, which documents it, must agree."""
    site_key, _ = site
    body = make_consent(site_key)
    r = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 201
    with app.app_context():
        record = app.extensions["ledger"].repository.find(site_snapshot(site_key, 0).id, body["client_record_id"])
    answer = consent_answer(Recorded(record, r.json["receipt"], True))
    dumped = ConsentOut().dump({**answer, "decided_at": record.created_at, "expires_at": record.expires_at})
    assert answer == dumped == r.json


def test_write_answers_match_flask_field_for_field(app, client, site):
    site_key, _ = site
    answers = []
    for hot in (True, False):
        app.config["HOT_PATHS"] = hot
        body = make_consent(site_key, visitor_id=f"v-same-{hot:d}-01", method="reject_all")
        r = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["US-CA"], Origin=ORIGIN))
        answers.append((r.status_code, sorted(r.json), r.json["event"], r.json["regime"], r.json["decisions"],
                        r.headers["Access-Control-Allow-Origin"], r.headers["Vary"]))
    app.config["HOT_PATHS"] = True
    assert answers[0] == answers[1]
