"""Schemathesis against the app's own OpenAPI document: every operation, through the real WSGI app.

The document is loaded from the app, and the cases are sent to the Flask app object, whose
`wsgi_app` is the front door (app/api/front_door.py, which answers POST /api/v1/consents and
/api/v1/consent-checks ahead of Flask) and then Flask; on the session's database (SQLite, or
PostgreSQL with TEST_DATABASE_URL). They carry real data so that they get past the 404s: the
site's API key on every call, its site key, visitors that have records, a webhook endpoint, an
address with a signup, an identity token and the site's purposes, each drawn often but not always
(the rest is generated). Every check schemathesis has runs (its default), among them
not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
response_schema_conformance, positive_data_acceptance (a body the document allows is not refused)
and negative_data_rejection (one it forbids is). The examples, coverage and fuzzing phases run.

Runs are derandomized (the same cases on every run, so CI is reproducible) and bounded: at most
SCHEMATHESIS_MAX_EXAMPLES (default 50) fuzzed examples per operation. A deeper pass, with other cases:

    SCHEMATHESIS_MAX_EXAMPLES=1000 SCHEMATHESIS_SEED=random make test   # or SCHEMATHESIS_SEED=<integer>

(a failing random run prints its seed, to run it again).
"""
import os
import random

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from app.services.identities import mint_token
from app.services.sites.snapshot import site_snapshot
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "")
# schemathesis' own expectations of the two checks, which the configuration extends
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
DATA_DEPENDENT = ["POST /api/v1/consents", "POST /api/v1/consent-checks", "POST /api/v1/consent-checks/batch",
                  "POST /api/v1/webhooks"]
OFTEN = 0.8  # how often a real value is drawn where one exists; the rest of the time the value is generated


def make_real_data(app, client, site_key, api_key):
    """What the cases draw from: visitors with records, a webhook endpoint, a person with a signup, a token."""
    auth = {"Authorization": f"Bearer {api_key}"}
    visitors = ["visitor-st-0001", "visitor-st-0002"]
    for vid in visitors:
        r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=vid),
                        headers=from_ip(IPS["DE"], Origin=ORIGIN))
        assert r.status_code == 201, r.json
    r = client.post("/api/v1/webhooks", json={"url": "https://hooks.shop.example/opsiq",
                                              "events": ["consent.recorded"]}, headers=auth)
    assert r.status_code == 201, r.json
    endpoint = r.json["id"]
    email = "jane@shop.example"
    r = client.post("/api/v1/identities", json={"visitor_id": visitors[0], "email": email}, headers=auth)
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/email-consents", json={"email": email, "source": "https://shop.example/news",
                                                    "wording": "Send me the news", "language": "en"}, headers=auth)
    assert r.status_code == 201, r.json
    with app.app_context():
        token = mint_token(site_snapshot(site_key, 0).id, email=email)
    return {"visitors": visitors, "endpoints": [endpoint], "emails": [email], "sites": [site_key], "tokens": [token],
            "purposes": ["necessary", "preferences", "analytics", "marketing"]}


def config_for(api_key, data):
    """The run's configuration: the API key on every call, real values drawn often, bounded and derandomized."""
    seed = random.randrange(2**32) if SEED == "random" else int(SEED) if SEED else None
    if seed is not None:
        print(f"SCHEMATHESIS_SEED={seed}")  # shown with a failure, to run the same cases again
    bind = {"dictionary": None, "probability": OFTEN}
    parameters = {}
    for key, dictionary in [
        ("path.visitor_id", "visitors"), ("query.visitor_id", "visitors"), ("body.visitor_id", "visitors"),
        ("body.items[*].visitor_id", "visitors"), ("path.endpoint_id", "endpoints"), ("path.site_key", "sites"),
        ("body.site_key", "sites"), ("body.token", "tokens"), ("body.purpose", "purposes"),
        ("body.items[*].purpose", "purposes"),
    ]:
        parameters[key] = {**bind, "dictionary": dictionary}
    # only where an email is required: a binding also adds its field where it was left out, which elsewhere
    # would break the rule of the body (an email or an external_id, not both; an email or a visitor)
    known_email = [{"include-name": name, "parameters": {"body.email": {**bind, "dictionary": "emails"}}}
                   for name in ("POST /api/v1/email-consents/check", "POST /api/v1/email-consents/withdraw")]
    raw = {
        "headers": {"Authorization": f"Bearer {api_key}"},
        "checks": {
            # a body over its byte limit is a 413 whatever the schema says: no JSON Schema counts bytes
            "positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "413"]},
            "negative_data_rejection": {"expected-statuses": [*REFUSED, "413"]},
        },
        "operations": [
            # a 422 here depends on the site's own data (its purposes), or on a URL's host, which no schema states
            {"include-name": name, "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "413", "422"]}}}
            for name in DATA_DEPENDENT
        ] + [
            {"include-name": "GET /api/v1/consents",  # a cursor is only what a page gave
             "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}}},
            *known_email,
        ],
        # no NUL in generated strings: the input gate refuses one in any string (the document says so once)
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": seed is None, "database": "none",
                       "allow-x00": False},
        "dictionaries": {name: {"values": values} for name, values in data.items() if values},
        "parameters": parameters,
    }
    if seed is not None:
        raw["seed"] = seed
    return SchemathesisConfig.from_dict(raw)


@pytest.fixture
def api_schema(request, app, client, site):
    """The app's document, loaded through the app, with the run's real data and settings."""
    if not hasattr(request.node, "_nodeid"):  # schemathesis 4.32 names each operation's report by an attribute
        request.node._nodeid = request.node.nodeid  # that pytest 9.2 no longer has
    site_key, api_key = site
    data = make_real_data(app, client, site_key, api_key)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config_for(api_key, data))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_its_document_says(case):
    """Each case is sent to the app (schema.app: the Flask app object) and its answer checked."""
    case.call_and_validate()
