"""Who the controller is: the site document's `controller`, `flask sites controller`, and the
Kantara receipts that name it (or say what the site has not given)."""
import json

from tests.conftest import IPS, from_ip, make_consent

CONTROLLER = {
    "organisation": "Shop GmbH", "contact": "Privacy team", "address": "Hauptstr. 1\n10115 Berlin",
    "email": "privacy@shop.example", "phone": "+49 30 1234-567",
    "dpo": {"name": "Dana Pro", "email": "dpo@shop.example"},
}


def import_doc(runner, tmp_path, doc):
    path = tmp_path / "site.json"
    path.write_text(json.dumps(doc))
    return runner.invoke(args=["sites", "import", str(path)])


def exported(runner, site_key):
    r = runner.invoke(args=["sites", "export", site_key])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_the_site_document_carries_the_controller(runner, site, tmp_path):
    site_key, _ = site
    doc = exported(runner, site_key)
    assert doc["controller"] == {}
    doc["controller"] = {**CONTROLLER, "phone": "  +49 30 1234-567 ", "contact": ""}
    r = import_doc(runner, tmp_path, doc)
    assert r.exit_code == 0, r.output
    expect = {k: v for k, v in CONTROLLER.items() if k != "contact"}  # trimmed; an empty field is no field
    assert exported(runner, site_key)["controller"] == expect
    # a document without `controller` leaves it as it is; an empty mapping clears it
    del doc["controller"]
    assert import_doc(runner, tmp_path, doc).exit_code == 0
    assert exported(runner, site_key)["controller"] == expect
    assert import_doc(runner, tmp_path, dict(doc, controller={})).exit_code == 0
    assert exported(runner, site_key)["controller"] == {}


def test_invalid_controller_fields_are_named(runner, site, tmp_path):
    site_key, _ = site
    doc = exported(runner, site_key)
    doc["controller"] = {"email": "not-an-address", "phone": "call me", "fax": "1", "address": 5,
                         "dpo": {"email": "dpo@@x"}}
    r = import_doc(runner, tmp_path, doc)
    assert r.exit_code != 0
    for named in ("controller.email", "controller.phone", "controller.fax", "controller.address",
                  "controller.dpo.email"):
        assert named in r.output, named
    assert import_doc(runner, tmp_path, dict(doc, controller="Shop GmbH")).exit_code != 0
    assert exported(runner, site_key)["controller"] == {}


def test_sites_controller_command_shows_and_changes_fields(runner, site):
    site_key, _ = site
    r = runner.invoke(args=["sites", "controller", site_key])
    assert r.exit_code == 0 and json.loads(r.output) == {}
    r = runner.invoke(args=["sites", "controller", site_key, "--organisation", "Shop GmbH", "--email",
                            "privacy@shop.example", "--dpo-email", "dpo@shop.example"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"organisation": "Shop GmbH", "email": "privacy@shop.example",
                                    "dpo": {"email": "dpo@shop.example"}}
    r = runner.invoke(args=["sites", "controller", site_key, "--email", "", "--phone", "+1 (555) 010-2030"])
    assert json.loads(r.output) == {"organisation": "Shop GmbH", "phone": "+1 (555) 010-2030",
                                    "dpo": {"email": "dpo@shop.example"}}
    r = runner.invoke(args=["sites", "controller", site_key, "--phone", "<b>x</b>"])
    assert r.exit_code != 0 and "controller.phone" in r.output
    assert runner.invoke(args=["sites", "controller", "nosuchsite"]).exit_code != 0


def kantara_controllers(client, site_key, api_key):
    client.post("/api/v1/consents", json=make_consent(site_key),
                headers=from_ip(IPS["DE"], Origin="https://shop.example"))
    r = client.get("/api/v1/consents?format=kantara", headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 200
    return r.json["records"][0]["piiControllers"]


def test_kantara_receipts_name_the_controller_or_what_is_missing(client, runner, site):
    site_key, api_key = site
    [entry] = kantara_controllers(client, site_key, api_key)
    # nothing given: the site's name stands in for the organisation; the rest is null and named missing
    assert entry == {"piiController": "Shop", "onBehalf": False, "contact": None, "address": None, "email": None,
                     "phone": None, "x-opsiq-missing": ["organisation", "contact", "address", "email", "phone"]}
    args = ["sites", "controller", site_key]
    for name, value in CONTROLLER.items():
        if name != "dpo":
            args += [f"--{name}", value]
    assert runner.invoke(args=args + ["--dpo-name", "Dana Pro"]).exit_code == 0
    [entry] = kantara_controllers(client, site_key, api_key)
    assert entry == {"piiController": "Shop GmbH", "onBehalf": False, "contact": "Privacy team",
                     "address": "Hauptstr. 1\n10115 Berlin", "email": "privacy@shop.example",
                     "phone": "+49 30 1234-567", "x-opsiq-dpo": {"name": "Dana Pro"}}
