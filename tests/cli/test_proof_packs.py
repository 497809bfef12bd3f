"""Proof packs (issue 13), through `flask policy publish`, `flask sites import`, `flask worker`,
`flask proof` and `flask ledger`: a publish only requests a pack, the worker builds it with
screenshots from the real widget in Debian's Chromium, the export's own verify_pack.py re-checks
it, and a pack changed in the database afterwards is caught by `flask ledger verify`."""
import hashlib
import json
import os
import subprocess
import sys
import zipfile

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import PolicyVersion, ProofFile, ProofPack
from app.services.sites.administration import create_site
from tests.admin.conftest import PASSWORD, Dashboard, main_text
from tests.browser.conftest import CHROMIUM, in_ci

PNG = b"\x89PNG\r\n\x1a\n"
REGIMES = ("opt_in", "opt_out", "notice")
LANGUAGES = ("en", "de")


@pytest.fixture
def chromium(app):
    """Packs built with screenshots in Debian's Chromium for this test (skipped where it is missing,
    outside CI only)."""
    if not os.path.exists(CHROMIUM):
        if in_ci():
            pytest.fail(f"{CHROMIUM} is missing; CI must build proof packs with screenshots")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium): no screenshots to check")
    app.config["PROOF_CHROMIUM"] = CHROMIUM  # read when a command or the worker starts
    yield CHROMIUM
    app.config["PROOF_CHROMIUM"] = None


@pytest.fixture
def shop(app):
    with app.app_context():
        site, _ = create_site("Shop", ["https://shop.example"], languages=LANGUAGES,
                              policy_url="https://shop.example/privacy")
        return site.site_key


def ok(runner, *args):
    r = runner.invoke(args=list(args))
    assert r.exit_code == 0, r.output
    return r.output


def packs(app):
    with app.app_context():
        rows = db.session.execute(sa.select(ProofPack).order_by(ProofPack.id)).scalars().all()
        out = [{"id": p.id, "version": p.version, "manifest": p.manifest, "digest": p.digest} for p in rows]
        db.session.remove()
    return out


def widget_sha(app):
    with open(os.path.join(app.static_folder, "widget.js"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_verify(path, cwd):
    return subprocess.run([sys.executable, "verify_pack.py", str(path)], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_publish_requests_a_pack_the_worker_builds_and_the_export_verifies(app, runner, shop, chromium, tmp_path):
    out = ok(runner, "policy", "publish", shop, "--version", "2", "--url", "https://shop.example/privacy-2")
    assert "published 2" in out and "proof pack requested" in out
    assert packs(app) == []  # the publish did not wait for Chromium: a request only
    r = runner.invoke(args=["proof", "export", shop, "--version", "2", "--out", str(tmp_path / "p.zip")])
    assert r.exit_code == 1 and "no proof pack yet" in r.output

    out = ok(runner, "worker", "--once")
    assert "proof: 2" in out, out  # version 1 (site creation) and version 2
    [v1, v2] = packs(app)
    assert (v1["version"], v2["version"]) == ("1", "2")
    m = v2["manifest"]
    with app.app_context():
        pv = db.session.execute(sa.select(PolicyVersion).where(PolicyVersion.version == "2")).scalar_one()
        content_hash = pv.content_hash
        files = {f.name: f.content for f in db.session.execute(
            sa.select(ProofFile).where(ProofFile.pack_id == v2["id"])).scalars()}
    assert m["screenshots"] is True and m["screenshots_reason"] is None and m["chromium"]
    assert m["policy_version"] == "2" and m["policy_url"] == "https://shop.example/privacy-2"
    assert m["content_hash"] == content_hash and m["widget"]["sha256"] == widget_sha(app)
    assert m["built_at"] and m["effective_at"] and m["languages"] == list(LANGUAGES)
    pngs = sorted(n for n in files if n.endswith(".png"))
    assert len(pngs) == 2 * len(LANGUAGES) * 3
    for lang in LANGUAGES:
        for regime in REGIMES:
            banner, dialog = files[f"banner-{lang}-{regime}.png"], files[f"dialog-{lang}-{regime}.png"]
            assert banner.startswith(PNG) and dialog.startswith(PNG)
            assert len(banner) > 5000 and len(dialog) > 5000  # a rendered page, not an empty image
            assert banner != dialog
            config = json.loads(files[f"config-{lang}-{regime}.json"])
            assert config["regime"] == regime and config["language"] == lang
            assert config["policy"] == {"version": "2", "url": "https://shop.example/privacy-2",
                                        "hash": content_hash}
    assert files["banner-en-opt_in.png"] != files["banner-de-opt_in.png"]  # each language's own texts
    assert files["banner-en-opt_in.png"] != files["banner-en-opt_out.png"]  # each regime's own buttons
    assert {n: hashlib.sha256(c).hexdigest() for n, c in files.items()} == m["files"]

    ok(runner, "ledger", "seal", shop, "--lag", "0")
    zpath = tmp_path / "pack.zip"
    out = ok(runner, "proof", "export", shop, "--version", "2", "--out", str(zpath))
    assert "12 screenshots" in out
    with zipfile.ZipFile(zpath) as z:
        names = set(z.namelist())
        outer = json.loads(z.read("manifest.json"))
        z.extractall(tmp_path / "unzipped")
    assert {"manifest.json", "README.txt", "verify_pack.py", "document.json"} <= names
    assert {f"{kind}-{lang}-{regime}.{ext}" for kind, ext in (("banner", "png"), ("dialog", "png"),
                                                              ("config", "json"))
            for lang in LANGUAGES for regime in REGIMES} <= names
    assert outer["digest"] == v2["digest"] and outer["pack"]["widget"]["sha256"] == widget_sha(app)
    assert outer["seal"]["chain"] == "proof" and outer["seal"]["seq"] >= 1 and len(outer["seal"]["seal_hash"]) == 64
    assert outer["exported_at"]

    good = run_verify(zpath, tmp_path / "unzipped")
    assert good.returncode == 0 and "the pack is intact" in good.stdout, good.stdout
    assert "sealed in proof seal" in good.stdout
    assert run_verify(tmp_path / "unzipped", tmp_path / "unzipped").returncode == 0  # the unzipped folder too

    bad = tmp_path / "altered.zip"  # one byte of one screenshot changed
    with zipfile.ZipFile(zpath) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "dialog-de-notice.png":
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            dst.writestr(name, data)
    failed = run_verify(bad, tmp_path / "unzipped")
    assert failed.returncode == 1, failed.stdout
    assert "FAIL dialog-de-notice.png" in failed.stdout and "the pack was altered" in failed.stdout


def test_the_dashboards_publish_path_requests_a_pack_too(app, runner, shop, tmp_path):
    """`flask sites import` with a new policy version goes through import_site -> publish_policy,
    as the dashboard's publish (publish_draft) does."""
    doc = json.loads(ok(runner, "sites", "export", shop))
    doc["texts"] = {"en": {"title": "Cookies at the shop"}}
    doc["policies"].append({"version": "7", "url": "https://shop.example/p7"})
    path = tmp_path / "site.json"
    path.write_text(json.dumps(doc))
    ok(runner, "sites", "import", str(path))
    ok(runner, "worker", "--once")
    built = {p["version"]: p["manifest"] for p in packs(app)}
    assert set(built) == {"1", "7"}
    assert built["7"]["screenshots"] is False  # this test's app has no Chromium
    zpath = tmp_path / "p7.zip"
    ok(runner, "proof", "export", shop, "--version", "7", "--out", str(zpath))
    with zipfile.ZipFile(zpath) as z:
        config = json.loads(z.read("config-en-opt_in.json"))
        assert json.loads(z.read("manifest.json"))["seal"] == "not sealed yet"
    assert config["texts"]["title"] == "Cookies at the shop"  # the document as published with version 7


def test_the_dashboards_publish_requests_a_pack_of_the_draft_it_published(app, runner, shop):
    email = "editor@shop.example"
    ok_in = runner.invoke(args=["users", "create", "--email", email, "--role", "editor", "--site", shop,
                                "--password-stdin"], input=PASSWORD + "\n")
    assert ok_in.exit_code == 0, ok_in.output
    d = Dashboard(app)
    assert d.sign_in(email).status_code == 302
    page = f"/admin/sites/{shop}/banner?lang=de"
    assert d.submit(page, page, description="Neu gefragt: nur mit Erlaubnis.").status_code == 302
    r = d.submit(f"/admin/sites/{shop}/publish", f"/admin/sites/{shop}/publish")  # asks again: version 2
    assert r.status_code == 302, main_text(r)
    assert [p["version"] for p in packs(app)] == []  # not built in the request
    ok(runner, "worker", "--once")
    built = {p["version"]: p for p in packs(app)}
    assert set(built) == {"1", "2"}
    with app.app_context():
        content = db.session.execute(sa.select(ProofFile.content).where(
            ProofFile.pack_id == built["2"]["id"], ProofFile.name == "config-de-opt_in.json")).scalar_one()
        old = db.session.execute(sa.select(ProofFile.content).where(
            ProofFile.pack_id == built["1"]["id"], ProofFile.name == "config-de-opt_in.json")).scalar_one()
    assert json.loads(content)["texts"]["description"] == "Neu gefragt: nur mit Erlaubnis."
    assert json.loads(old)["texts"]["description"] != "Neu gefragt: nur mit Erlaubnis."  # version 1 as it was


def test_without_chromium_the_pack_says_so_and_rebuild_completes_it(app, runner, shop, tmp_path):
    app.config["PROOF_CHROMIUM"] = None  # as where Chromium is not installed
    ok(runner, "policy", "publish", shop, "--version", "2", "--url", "https://shop.example/p2")
    out = ok(runner, "proof", "build", shop, "--version", "2")
    assert "NO screenshots" in out and "flask proof rebuild" in out
    [first] = [p for p in packs(app) if p["version"] == "2"]
    assert first["manifest"]["screenshots"] is False
    assert "PROOF_CHROMIUM" in first["manifest"]["screenshots_reason"]
    assert not any(n.endswith(".png") for n in first["manifest"]["files"])
    assert len([n for n in first["manifest"]["files"] if n.startswith("config-")]) == len(LANGUAGES) * 3
    r = runner.invoke(args=["proof", "build", shop, "--version", "2"])
    assert r.exit_code == 1 and "already has pack" in r.output

    if not os.path.exists(CHROMIUM):
        if in_ci():
            pytest.fail(f"{CHROMIUM} is missing; CI must complete proof packs")
        pytest.skip(f"{CHROMIUM} is not installed: the rebuild with screenshots is not checked")
    app.config["PROOF_CHROMIUM"] = CHROMIUM
    try:
        out = ok(runner, "proof", "rebuild", shop, "--version", "2")
    finally:
        app.config["PROOF_CHROMIUM"] = None
    assert "12 screenshots" in out
    second = packs(app)[-1]
    assert second["version"] == "2" and second["manifest"]["screenshots"] is True
    assert second["manifest"]["supersedes"] == {"pack": first["id"], "digest": first["digest"]}
    # the same configurations: rebuilt from the document the first pack holds
    assert {n: h for n, h in second["manifest"]["files"].items() if n.startswith("config-")} == {
        n: h for n, h in first["manifest"]["files"].items() if n.startswith("config-")}
    zpath = tmp_path / "p2.zip"
    ok(runner, "proof", "export", shop, "--version", "2", "--out", str(zpath))
    with zipfile.ZipFile(zpath) as z:
        assert json.loads(z.read("manifest.json"))["pack_id"] == second["id"]
        assert len([n for n in z.namelist() if n.endswith(".png")]) == 12
        z.extractall(tmp_path / "x")
    assert run_verify(zpath, tmp_path / "x").returncode == 0


def verify(runner, site_key):
    return runner.invoke(args=["ledger", "verify", site_key])


def test_ledger_verify_catches_a_pack_changed_after_sealing(app, runner, shop):
    ok(runner, "worker", "--once")  # version 1's pack, without screenshots in this test's app
    ok(runner, "ledger", "seal", shop, "--lag", "0")
    r = verify(runner, shop)
    assert r.exit_code == 0 and "proof chain: OK (1 sealed" in r.output, r.output
    [pack] = packs(app)

    with app.app_context():  # a file changed in the database
        f = db.session.execute(sa.select(ProofFile).where(ProofFile.pack_id == pack["id"],
                                                          ProofFile.name == "config-en-opt_in.json")).scalar_one()
        original = f.content
        f.content = original.replace(b'"opt_in"', b'"notice"')
        db.session.commit()
    r = verify(runner, shop)
    assert r.exit_code == 1 and f"proof pack {pack['id']} differs from what proof seal 1 holds" in r.output, r.output

    with app.app_context():  # put back: verifies again
        f = db.session.execute(sa.select(ProofFile).where(ProofFile.pack_id == pack["id"],
                                                          ProofFile.name == "config-en-opt_in.json")).scalar_one()
        f.content = original
        db.session.commit()
    assert verify(runner, shop).exit_code == 0

    with app.app_context():  # the manifest swapped for another, its digest recomputed to match
        p = db.session.get(ProofPack, pack["id"])
        manifest = {**p.manifest, "policy_url": "https://elsewhere.example/privacy"}
        p.manifest = manifest
        p.digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=False).encode()).hexdigest()
        db.session.commit()
    r = verify(runner, shop)
    assert r.exit_code == 1 and f"proof pack {pack['id']} differs from what proof seal 1 holds" in r.output, r.output

    with app.app_context():  # and a pack removed altogether
        db.session.execute(sa.delete(ProofFile).where(ProofFile.pack_id == pack["id"]))
        db.session.execute(sa.delete(ProofPack).where(ProofPack.id == pack["id"]))
        db.session.commit()
    r = verify(runner, shop)
    assert r.exit_code == 1 and f"proof pack {pack['id']} sealed in proof seal 1 is gone" in r.output, r.output


def test_the_proof_commands_say_what_is_wrong(runner, shop, tmp_path):
    r = runner.invoke(args=["proof", "build", shop, "--version", "9"])
    assert r.exit_code == 1 and "no policy version '9'" in r.output
    r = runner.invoke(args=["proof", "rebuild", shop, "--version", "1"])
    assert r.exit_code == 1 and "has no pack yet" in r.output
    r = runner.invoke(args=["proof", "build", "nope", "--version", "1"])
    assert r.exit_code != 0
