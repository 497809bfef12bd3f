"""The OpenAPI document at /api/v1/openapi.json: valid OpenAPI, and its patterns read as the API reads them.

Code generators, Swagger UI and JSON Schema validators read a document's `pattern` as ECMA-262; the
API validates with Python's `re`. A pattern written in one dialect can mean something else, or
nothing, in the other (`\\Z` is no ECMA-262 anchor; Python's `$` lets a final newline through), so
the documented pattern is run under ECMA-262 itself (node, which `make test` needs for the widget
anyway) and held to what the API accepts.

The two answers any operation can give but schemathesis does not provoke, the database out of
reach (503) and a rate limit spent (429), are provoked here for every operation and held to the
document: documented, with Retry-After, in the one error shape.
"""
import json
import shutil
import subprocess

import pytest
import schemathesis
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from app import create_app
from tests.conftest import make_consent

VISITOR_IDS = [
    "abcdefgh", "a" * 64, "v-1234.5678:9_0", "ABCDEFGH", "12345678",  # accepted
    "abcdefg", "a" * 65, "", "abcdefgh\n", "\nabcdefgh", "abcd efgh", "abcdéfgh", "abcdefgh\r",
    "abcdefgh\u2028", "abcd/efgh", "abcdefgh$", "^abcdefgh", "abc\\defgh",
]


def documented(doc, schema_name, field):
    """A field's schema as the document states it, from its components."""
    return doc["components"]["schemas"][schema_name]["properties"][field]


def ecma_matches(pattern, values):
    """What ECMA-262 (node's RegExp, with the `u` flag JSON Schema 2020-12 asks for) says of each value."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node (needed by `make test` for the widget) is not installed")
    script = ("const [p, vs] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const re = new RegExp(p, 'u'); process.stdout.write(JSON.stringify(vs.map(v => re.test(v))));")
    out = subprocess.run([node, "-e", script], input=json.dumps([pattern, values]), capture_output=True, text=True,
                         timeout=30, check=False)
    if out.returncode:
        pytest.fail(f"{pattern!r} is no ECMA-262 pattern: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout)


def test_the_document_is_valid_openapi(client):
    doc = client.get("/api/v1/openapi.json").json
    try:
        validate(doc)
    except OpenAPIValidationError as e:
        pytest.fail(f"the OpenAPI document is not valid: {e}")


def test_every_documented_pattern_is_ecma_262(client):
    """Each pattern in the document compiles as an ECMA-262 regular expression (in `u` mode, the strict one)."""
    patterns = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(client.get("/api/v1/openapi.json").json)
    assert patterns
    for pattern in sorted(patterns):
        ecma_matches(pattern, [""])  # fails the test on a pattern ECMA-262 cannot compile


def test_the_documented_visitor_id_pattern_accepts_what_the_api_accepts(client, site_ctx):
    """The pattern shown for visitor_id, run as ECMA-262, accepts and refuses exactly what the API does:
    a write through the front door, a check, and the export's filter."""
    site_key, _, auth = site_ctx
    doc = client.get("/api/v1/openapi.json").json
    pattern = documented(doc, "ConsentIn", "visitor_id")["pattern"]
    for name, field in [("ConsentCheckIn", "visitor_id"), ("IdentityIn", "visitor_id"),
                        ("BrowserIdentityIn", "visitor_id")]:
        assert documented(doc, name, field)["pattern"] == pattern
    export = next(p for p in doc["paths"]["/api/v1/consents"]["get"]["parameters"] if p["name"] == "visitor_id")
    assert export["schema"]["pattern"] == pattern

    by_ecma = ecma_matches(pattern, VISITOR_IDS)
    assert by_ecma[:5] == [True] * 5 and not any(by_ecma[5:])  # the examples say what they mean to
    for vid, expected in zip(VISITOR_IDS, by_ecma, strict=True):
        write = client.post("/api/v1/consents", data=json.dumps(make_consent(site_key, visitor_id=vid)),
                            content_type="text/plain")
        check = client.post("/api/v1/consent-checks", json={"visitor_id": vid, "purpose": "analytics"}, headers=auth)
        listed = client.get("/api/v1/consents", query_string={"visitor_id": vid}, headers=auth)
        answers = (write.status_code, check.status_code, listed.status_code)
        assert answers == ((201, 200, 200) if expected else (422, 422, 422)), (vid, answers)


# --- the answers every operation can give, as they really come -----------------------------------

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # a refused connection, at once
VISITOR = "visitor-doc-0001"
BROWSER_BODIES = {  # the browser routes read the body before the database (server routes: the API key first)
    "POST /api/v1/consents": lambda: make_consent("some-site-key", visitor_id=VISITOR),
    "POST /api/v1/identities/browser": lambda: {"site_key": "some-site-key", "visitor_id": VISITOR,
                                                "visitor_secret": make_consent("k", visitor_id=VISITOR)["visitor_secret"],
                                                "token": "t"},
    "POST /api/v1/subjects/browser-export": lambda: {
        "site_key": "some-site-key", "visitor_id": VISITOR,
        "visitor_secret": make_consent("k", visitor_id=VISITOR)["visitor_secret"]},
    "POST /api/v1/subjects/browser-erase": lambda: {
        "site_key": "some-site-key", "visitor_id": VISITOR,
        "visitor_secret": make_consent("k", visitor_id=VISITOR)["visitor_secret"]},
}


def operations(doc):
    """(label, method, path with its parameters filled) of every operation in the document."""
    for path, item in doc["paths"].items():
        for method in item:
            if method != "parameters":
                filled = path.replace("{site_key}", "some-site-key").replace("{visitor_id}", VISITOR)
                yield f"{method.upper()} {path}", method.upper(), filled.replace("{endpoint_id}", "some-endpoint")


def call(client, label, method, path, auth):
    body = BROWSER_BODIES.get(label)
    return client.open(path, method=method, json=body() if body else None, headers=auth)


def api_document(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def assert_documented_retry(doc, document, label, r):
    """The answer's status is documented for its operation with a Retry-After header, which it carries
    (a whole number of seconds), and its body is the documented one."""
    method, path = label.split(" ", 1)
    answer = doc["paths"][path][method.lower()]["responses"].get(str(r.status_code))
    assert answer is not None, f"{label}: {r.status_code} is not documented"
    if "$ref" in answer:
        answer = doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    assert "Retry-After" in answer.get("headers", {}), f"{label}: the documented {r.status_code} has no Retry-After"
    assert int(r.headers["Retry-After"]) >= 0
    document[path][method].validate_response(r)


def test_while_the_database_is_out_of_reach_every_operation_answers_the_documented_503():
    down = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": UNREACHABLE, "SITE_CACHE_SECONDS": 0,
                       "CACHE_CHANNEL": "", "LEDGER_SEAL_INTERVAL": 0, "RATE_LIMITS": False})
    client, document = down.test_client(), api_document(down)
    doc = client.get("/api/v1/openapi.json").json
    auth = {"Authorization": "Bearer opsiq_sk_12345678abcdefgh"}
    for label, method, path in operations(doc):
        r = call(client, label, method, path, auth)
        assert r.status_code == 503, (label, r.status_code, r.get_data(as_text=True))
        assert_documented_retry(doc, document, label, r)


def test_past_a_rate_limit_every_operation_answers_the_documented_429(app, client, site):
    limited = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TRUSTED_PROXIES": 1,
        "SITE_CACHE_SECONDS": 0, "LEDGER_SEAL_INTERVAL": 0, "CACHE_CHANNEL": "",
        "RATE_LIMIT_BROWSER": "1/hour", "RATE_LIMIT_SERVER": "1/hour"})
    site_key, api_key = site
    limited_client, document = limited.test_client(), api_document(limited)
    auth = {"Authorization": f"Bearer {api_key}", "X-Forwarded-For": "81.169.145.1"}
    doc = client.get("/api/v1/openapi.json").json
    for label, method, path in operations(doc):
        path = path.replace("some-site-key", site_key)
        call(limited_client, label, method, path, auth)  # spends the limit (whatever it answers)
        r = call(limited_client, label, method, path, auth)
        if r.status_code != 429:  # the browser limit counts per site and address: one spent it already
            r = call(limited_client, label, method, path, auth)
        assert r.status_code == 429, (label, r.status_code, r.get_data(as_text=True))
        assert_documented_retry(doc, document, label, r)
