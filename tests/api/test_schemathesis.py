"""Schemathesis against the app's own OpenAPI document: every operation, through the real WSGI app.

The document is loaded from the app, and the cases are sent to the Flask app object, whose
`wsgi_app` is the front door (app/api/front_door.py, which answers POST /api/v1/consents and
/api/v1/consent-checks ahead of Flask) and then Flask; on the session's database (SQLite, or
PostgreSQL with TEST_DATABASE_URL), from addresses of several countries in turn.

They carry real data so that they get past the 404s: the site's API key on every call, and, most
of the time but not always (the rest is generated), its site key, visitors that have records and
their secret, a webhook endpoint, an address with a signup, an identity token (schemathesis
binds them, `config_for`), and the site's purposes, languages and policy version, which a case
meant to be accepted gets in place of generated ones (`with_real_data`: the document cannot say
which a site has). Every operation must answer a 2xx at least once (`answered`).

Every check schemathesis has runs (its default), among them not_a_server_error,
status_code_conformance, content_type_conformance, response_headers_conformance,
response_schema_conformance, positive_data_acceptance (a body the document allows is not refused)
and negative_data_rejection (one it forbids is); the examples, coverage and fuzzing phases run.

Runs are derandomized (the same cases on every run, so CI is reproducible) and bounded: at most
SCHEMATHESIS_MAX_EXAMPLES (default 150) fuzzed examples per operation: the suite took 38 s longer
with it on SQLite and 57 s on PostgreSQL (the shared 2-core development machine). A deeper pass:

    SCHEMATHESIS_MAX_EXAMPLES=1000 SCHEMATHESIS_SEED=random make test   # or SCHEMATHESIS_SEED=<integer>

(a failing random run prints its seed, to run it again).
"""
import collections
import itertools
import os
import random
import zlib

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from app.services.identities import mint_token
from app.services.sites.snapshot import site_snapshot
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "150"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "")
# schemathesis' own expectations of the two checks, which the configuration extends
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
DATA_DEPENDENT = ["POST /api/v1/consents", "POST /api/v1/consent-checks", "POST /api/v1/consent-checks/batch",
                  "POST /api/v1/webhooks", "POST /api/v1/scans",
                  "POST /api/v1/subject-requests"]  # its received_at may not be after now, which no schema states
OFTEN = 0.8  # how often a real value is drawn where one exists; the rest of the time the value is generated
PURPOSES = ["necessary", "preferences", "analytics", "marketing"]  # every new site's
LANGUAGES = ["en", "de", "fr", "es"]  # and its languages
SECRET = "schemathesis-visitor-secret-0001"  # the real visitors' (a browser keeps its own)
# the callers' addresses, in turn: regimes differ by country, and the browser rate limit counts per address
ADDRESSES = itertools.cycle(IPS.values())


def make_real_data(app, client, site_key, api_key):
    """What the cases draw from: visitors with records, a webhook endpoint, a person with a signup, a token."""
    auth = {"Authorization": f"Bearer {api_key}"}
    visitors = ["visitor-st-0001", "visitor-st-0002"]
    for vid in visitors:
        r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=vid, visitor_secret=SECRET),
                        headers=from_ip(IPS["DE"], Origin=ORIGIN))
        assert r.status_code == 201, r.json
    r = client.post("/api/v1/webhooks", json={"url": "https://hooks.shop.example/opsiq",
                                              "events": ["consent.recorded"]}, headers=auth)
    assert r.status_code == 201, r.json
    endpoint = r.json["id"]
    r = client.post("/api/v1/scans", json={"url": "https://shop.example/"}, headers=auth)
    assert r.status_code == 202, r.json
    scan = r.json["id"]
    email = "jane@shop.example"
    r = client.post("/api/v1/identities", json={"visitor_id": visitors[0], "email": email}, headers=auth)
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/email-consents", json={"email": email, "source": "https://shop.example/news",
                                                    "wording": "Send me the news", "language": "en"}, headers=auth)
    assert r.status_code == 201, r.json
    with app.app_context():
        token = mint_token(site_snapshot(site_key, 0).id, email=email)
    return {"visitors": visitors, "secrets": [SECRET], "endpoints": [endpoint], "emails": [email], "sites": [site_key],
            "tokens": [token], "policies": ["1"], "scans": [scan]}


def config_for(api_key, data):
    """The run's configuration: the API key on every call, real values drawn often, bounded and derandomized."""
    seed = random.randrange(2**32) if SEED == "random" else int(SEED) if SEED else None
    if seed is not None:
        print(f"SCHEMATHESIS_SEED={seed}")  # shown with a failure, to run the same cases again
    def bind(**fields):
        return {key: {"dictionary": dictionary, "probability": OFTEN} for key, dictionary in fields.items()}

    parameters = bind(**{"path.visitor_id": "visitors", "query.visitor_id": "visitors", "path.site_key": "sites",
                         "path.endpoint_id": "endpoints", "path.scan_id": "scans"})
    # Body fields are bound where the operation requires them: a binding also adds its field where the
    # case left it out, which would break a rule across fields (a check names a visitor or an email, not
    # both); the checks' bodies get real values from real_checks instead.
    body = {
        "POST /api/v1/consents": bind(**{"body.site_key": "sites", "body.visitor_id": "visitors",
                                         "body.visitor_secret": "secrets", "body.policy_version": "policies"}),
        "POST /api/v1/identities": bind(**{"body.visitor_id": "visitors"}),
        "POST /api/v1/identities/browser": bind(**{"body.site_key": "sites", "body.visitor_id": "visitors",
                                                   "body.visitor_secret": "secrets", "body.token": "tokens"}),
        "POST /api/v1/subjects/browser-export": bind(**{"body.site_key": "sites", "body.visitor_id": "visitors",
                                                        "body.visitor_secret": "secrets"}),
        "POST /api/v1/subjects/browser-erase": bind(**{"body.site_key": "sites", "body.visitor_id": "visitors",
                                                       "body.visitor_secret": "secrets"}),
        "POST /api/v1/email-consents/check": bind(**{"body.email": "emails"}),
        "POST /api/v1/email-consents/withdraw": bind(**{"body.email": "emails"}),
    }
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
            *({"include-name": name,  # a cursor is only what a page gave
               "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}}}
              for name in ("GET /api/v1/consents", "GET /api/v1/audit-log")),
            # a period may not start after it ends nor span over 400 days: no JSON Schema compares two dates
            {"include-name": "GET /api/v1/stats",
             "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}}},
            *({"include-name": name, "parameters": fields} for name, fields in body.items()),
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
def real_data(app, client, site):
    """The real values the cases draw from (make_real_data), on the test's site."""
    return make_real_data(app, client, *site)


@pytest.fixture
def api_schema(request, app, site, real_data):
    """The app's document, loaded through the app, with the run's real data and settings."""
    if not hasattr(request.node, "_nodeid"):  # schemathesis 4.32 names each operation's report by an attribute
        request.node._nodeid = request.node.nodeid  # that pytest 9.2 no longer has
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config_for(site[1], real_data))


@pytest.fixture
def answered(api_schema):
    """Each operation's answers, by status: every operation must have answered a 2xx at least once, or
    its cases never got past the 404s and the 422s to what the operation does."""
    statuses = collections.defaultdict(collections.Counter)
    yield statuses
    labels = [result.ok().label for result in api_schema.get_all_operations()]
    never = {label: dict(statuses[label]) for label in labels if not any(200 <= s < 300 for s in statuses[label])}
    assert not never, f"operations that never answered a 2xx (their answers by status): {never}"


schema = schemathesis.pytest.from_fixture("api_schema")


def real(value, choices):
    """Most of the time one of the real `choices` in place of a generated value, picked by a checksum of
    it so that runs repeat; else the generated value."""
    n = zlib.crc32(repr(value).encode("utf-8", "surrogatepass"))
    return choices[n % len(choices)] if n % 5 else value


def real_purposes(decisions):
    """A decision names the site's purposes: a generated slug names none (a 422, since a site's
    purposes are its own), so each is most often one of them."""
    return {real(slug, PURPOSES): value for slug, value in decisions.items()}


def real_check(item, visitors):
    """A visitor's check most often about a real visitor and a real purpose (an address's stays as
    generated: its purpose can only be email_marketing)."""
    if isinstance(item, dict) and "email" not in item:
        for field, choices in (("visitor_id", visitors), ("purpose", PURPOSES)):
            if isinstance(item.get(field), str):
                item[field] = real(item[field], choices)
    return item


def with_real_data(case, data):
    """Real values where the document cannot say which values the site has, in cases meant to be
    accepted only: a case meant to be refused keeps what makes it wrong."""
    body = case.body
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE or not isinstance(body, dict):
        return
    label = case.operation.label
    if label in ("POST /api/v1/consents", "POST /api/v1/identities/browser") and isinstance(body.get("site_key"), str):
        body["site_key"] = real(body["site_key"], data["sites"])  # the examples and coverage phases take no binding
    if label == "POST /api/v1/consents":
        if isinstance(body.get("decisions"), dict):
            body["decisions"] = real_purposes(body["decisions"])
        for field, choices in (("language", LANGUAGES), ("policy_version", data["policies"])):
            if isinstance(body.get(field), str):
                body[field] = real(body[field], choices)
    elif label == "POST /api/v1/subjects/browser-export":
        for field, choices in (("site_key", data["sites"]), ("visitor_id", data["visitors"]),
                               ("visitor_secret", data["secrets"])):
            if isinstance(body.get(field), str):
                body[field] = real(body[field], choices)
    elif label == "POST /api/v1/consent-checks":
        real_check(body, data["visitors"])
    elif label == "POST /api/v1/consent-checks/batch" and isinstance(body.get("items"), list):
        body["items"] = [real_check(item, data["visitors"]) for item in body["items"]]


ERASED = itertools.count()


def erasable_visitor(app, case, data):
    """An erasure erases its visitor for good: each case meant to be accepted gets a fresh one, recorded
    with the real secret, most of the time (the others keep what was generated)."""
    body = case.body
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE or not isinstance(body, dict):
        return
    if not all(isinstance(body.get(f), str) for f in ("site_key", "visitor_id", "visitor_secret")):
        return
    if real(body["visitor_id"], [None, None]) is None:
        visitor = f"visitor-erase-{next(ERASED):05d}"
        site_key = data["sites"][0]
        r = app.test_client().post("/api/v1/consents", json=make_consent(site_key, visitor_id=visitor,
                                   visitor_secret=SECRET), headers=from_ip(IPS["DE"], Origin=ORIGIN))
        assert r.status_code == 201, r.json
        body.update(site_key=site_key, visitor_id=visitor, visitor_secret=SECRET)


@schema.parametrize()
def test_every_operation_answers_as_its_document_says(app, case, real_data, answered):
    """Each case is sent to the app (schema.app: the Flask app object) and its answer checked."""
    with_real_data(case, real_data)
    if case.operation.label == "POST /api/v1/subjects/browser-erase":
        erasable_visitor(app, case, real_data)
    response = case.call_and_validate(headers={"X-Forwarded-For": next(ADDRESSES)})
    if case.method.upper() == case.operation.method.upper():  # not a probe with another method (a 405, or OPTIONS)
        answered[case.operation.label][response.status_code] += 1
