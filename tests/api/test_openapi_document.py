"""The OpenAPI document at /api/v1/openapi.json: valid OpenAPI, and its patterns read as the API reads them.

Code generators, Swagger UI and JSON Schema validators read a document's `pattern` as ECMA-262; the
API validates with Python's `re`. A pattern written in one dialect can mean something else, or
nothing, in the other (`\\Z` is no ECMA-262 anchor; Python's `$` lets a final newline through), so
the documented pattern is run under ECMA-262 itself (node, which `make test` needs for the widget
anyway) and held to what the API accepts.
"""
import json
import shutil
import subprocess

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

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
