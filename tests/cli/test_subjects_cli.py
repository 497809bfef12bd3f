"""`flask subjects`: exports and the request register from the command line."""
import json

from tests.api.test_subjects import people


def test_subjects_export_writes_the_same_document(client, runner, make_site, tmp_path):
    site_key, api_key, jane, made, _ = people(client, make_site)
    api = client.post("/api/v1/subjects/export", json={"person_id": jane},
                      headers={"Authorization": f"Bearer {api_key}"}).json
    out = tmp_path / "jane.json"
    r = runner.invoke(args=["subjects", "export", site_key, "--email", "jane@example.com", "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    for key in ("consent_records", "email_consents", "identities", "controller", "texts_shown"):
        assert doc[key] == api[key], key
    r = runner.invoke(args=["subjects", "export", site_key, "--visitor-id", "jane-browser-2"])
    assert r.exit_code == 0, r.output
    assert [x["record_id"] for x in json.loads(r.stdout)["consent_records"]] == [made["jane"][1]["record_id"]]


def test_subjects_export_needs_exactly_one_selector_and_a_known_person(runner, site):
    site_key, _ = site
    for args in ([], ["--email", "a@b.example", "--visitor-id", "visitor-aaaa"]):
        r = runner.invoke(args=["subjects", "export", site_key, *args])
        assert r.exit_code != 0 and "exactly one" in r.output
    r = runner.invoke(args=["subjects", "export", site_key, "--person-id", "nobody"])
    assert r.exit_code != 0 and "No such person" in r.output
    assert runner.invoke(args=["subjects", "export", "nosuchsite", "--email", "a@b.example"]).exit_code != 0
