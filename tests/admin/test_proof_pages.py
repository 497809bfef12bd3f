"""The proof pack pages (app/admin/proof_packs.py) through the test client: the list of a site's
policy versions and their packs, a pack's page, its ZIP (the same pack `flask proof export`
writes), its screenshots, the rebuild, and who may reach each route. Packs are built with
`flask proof build` (without screenshots: the test app has no Chromium), or with Chromium where a
test says so."""
import io
import json
import os
import zipfile

import pytest

from tests.admin.conftest import audit_entries, main_text
from tests.browser.conftest import CHROMIUM, in_ci

PNG = b"\x89PNG\r\n\x1a\n"


def ok(runner, *args):
    r = runner.invoke(args=list(args))
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture
def shop(make_site, runner):
    """A site with versions 1 (its pack built, without screenshots) and 2 (published, waiting for the worker)."""
    site_key, _ = make_site(name="Shop", languages=["en"])  # one language: a rebuild takes 6 screenshots
    ok(runner, "proof", "build", site_key, "--version", "1")
    ok(runner, "policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/privacy-2")
    return site_key


@pytest.fixture
def chromium(app):
    """Chromium configured for this test, as a server with it installed has it."""
    if not os.path.exists(CHROMIUM):
        if in_ci():
            pytest.fail(f"{CHROMIUM} is missing; CI must build proof packs with screenshots")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    app.config["PROOF_CHROMIUM"] = CHROMIUM
    yield CHROMIUM
    app.config["PROOF_CHROMIUM"] = None


def signed_in(dashboard, make_user, role, site_key):
    d = dashboard()
    assert d.sign_in(make_user(role, sites=[site_key])).status_code == 302
    return d


def export_manifest(runner, site_key, version, tmp_path):
    path = tmp_path / f"cli-{version}.zip"
    ok(runner, "proof", "export", site_key, "--version", version, "--out", str(path))
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_the_list_shows_each_version_newest_first_with_its_pack(dashboard, make_user, shop):
    d = signed_in(dashboard, make_user, "viewer", shop)
    home = d.get(f"/admin/sites/{shop}")
    assert f'href="/admin/sites/{shop}/proof"' in home.get_data(as_text=True)  # in the site's navigation
    r = d.get(f"/admin/sites/{shop}/proof")
    html, text = r.get_data(as_text=True), main_text(r)
    assert r.status_code == 200
    assert text.index("Version 2") < text.index("Version 1")
    assert "Waiting for the worker" in text
    assert "Built without screenshots: no Chromium is configured (PROOF_CHROMIUM is unset)" in text
    assert "Not sealed yet" in text
    assert html.count(f'href="/admin/sites/{shop}/proof/1/pack.zip"') == 1  # version 2 has no pack to download
    assert '/proof/2/pack.zip' not in html


def test_the_list_shows_the_digest_shortened_and_the_seal(app, dashboard, make_user, runner, shop, tmp_path):
    ok(runner, "ledger", "seal", shop, "--lag", "0")
    outer = json.loads(export_manifest(runner, shop, "1", tmp_path)["manifest.json"])
    d = signed_in(dashboard, make_user, "privacy", shop)
    r = d.get(f"/admin/sites/{shop}/proof")
    html, text = r.get_data(as_text=True), main_text(r)
    assert f'<code title="{outer["digest"]}">{outer["digest"][:12]}…</code>' in html
    assert f"Sealed in proof seal {outer['seal']['seq']} of the site's proof chain" in text
    page = main_text(d.get(f"/admin/sites/{shop}/proof/1"))
    assert outer["seal"]["seal_hash"] in page and outer["digest"] in page


def test_a_packs_page_shows_the_manifests_facts(app, dashboard, make_user, runner, shop, tmp_path):
    outer = json.loads(export_manifest(runner, shop, "1", tmp_path)["manifest.json"])
    m = outer["pack"]
    d = signed_in(dashboard, make_user, "viewer", shop)
    r = d.get(f"/admin/sites/{shop}/proof/1")
    text = main_text(r)
    assert r.status_code == 200
    for fact in (m["widget"]["sha256"], m["content_hash"], m["policy_url"], outer["digest"],
                 m["built_at"][:19].replace("T", " ")):
        assert fact in text, fact
    assert "This pack has no screenshots: no Chromium is configured" in text
    assert "Rebuild" not in text  # a viewer is not offered it
    assert "<img" not in r.get_data(as_text=True)


def test_an_unknown_version_is_404_and_one_without_a_pack_says_the_worker_builds_it(dashboard, make_user, shop):
    d = signed_in(dashboard, make_user, "viewer", shop)
    r = d.get(f"/admin/sites/{shop}/proof/9")
    assert r.status_code == 404 and r.mimetype == "text/html" and "no policy version '9'" in main_text(r)
    assert d.get(f"/admin/sites/{shop}/proof/9/pack.zip").status_code == 404
    r = d.get(f"/admin/sites/{shop}/proof/2")
    assert r.status_code == 200 and "Waiting for the worker, which builds it" in main_text(r)
    r = d.get(f"/admin/sites/{shop}/proof/2/pack.zip")
    assert r.status_code == 404 and "no proof pack yet" in main_text(r)


def test_the_download_is_the_packs_export_as_the_cli_writes_it(app, dashboard, make_user, runner, shop, tmp_path):
    d = signed_in(dashboard, make_user, "viewer", shop)
    r = d.get(f"/admin/sites/{shop}/proof/1/pack.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.headers["Content-Disposition"] == f'attachment; filename="proof-{shop}-v1.zip"'
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:
        downloaded = {n: z.read(n) for n in z.namelist()}
    cli = export_manifest(runner, shop, "1", tmp_path)
    assert set(downloaded) == set(cli)
    for name in cli:
        if name != "manifest.json":
            assert downloaded[name] == cli[name], name
    ours, theirs = json.loads(downloaded["manifest.json"]), json.loads(cli["manifest.json"])
    assert ours.pop("exported_at") <= theirs.pop("exported_at")  # the one field that differs: when
    assert ours == theirs
    assert [e["details"]["version"] for e in audit_entries(app, "proof.exported")] == ["1", "1"]


def test_roles_route_by_route(app, dashboard, make_user, make_site, shop):
    other, _ = make_site(name="Other shop")
    base = f"/admin/sites/{shop}/proof"
    for role in ("owner", "editor", "privacy", "viewer"):
        d = signed_in(dashboard, make_user, role, shop)
        assert d.get(base).status_code == 200, role
        assert d.get(f"{base}/1").status_code == 200, role
        assert d.get(f"{base}/1/pack.zip").status_code == 200, role
        offered = "/proof/1/rebuild" in d.get(f"{base}/1").get_data(as_text=True)
        if role in ("privacy", "viewer"):
            r = d.submit(f"{base}/1", None) if offered else d.client.post(
                f"{base}/1/rebuild", data={"csrf_token": csrf_of(d, f"{base}/1")})
            assert r.status_code == 403 and "may not rebuild a proof pack" in main_text(r), role
        # a site not granted answers as a key no site has, on every route
        for path in (f"/admin/sites/{other}/proof", f"/admin/sites/{other}/proof/1",
                     f"/admin/sites/{other}/proof/1/pack.zip"):
            assert d.get(path).status_code == 404, (role, path)
        r = d.client.post(f"/admin/sites/{other}/proof/1/rebuild", data={"csrf_token": csrf_of(d, f"{base}/1")})
        assert r.status_code == 404, role
    assert d.get(f"{base}/1/packs/1/banner-en-opt_in.png").status_code == 404  # a pack without screenshots


def csrf_of(d, page):
    """The CSRF token the page's sign-out form carries (every page of a signed-in user has one)."""
    return d.form(page, "/admin/logout")["csrf_token"]


def test_signed_out_every_route_sends_to_sign_in(dashboard, shop):
    d = dashboard()
    for path in (f"/admin/sites/{shop}/proof", f"/admin/sites/{shop}/proof/1", f"/admin/sites/{shop}/proof/1/pack.zip",
                 f"/admin/sites/{shop}/proof/1/packs/1/banner-en-opt_in.png"):
        r = d.get(path)
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], path


def test_a_rebuild_is_refused_without_chromium_and_without_its_csrf_token(app, dashboard, make_user, shop):
    d = signed_in(dashboard, make_user, "editor", shop)
    page = f"/admin/sites/{shop}/proof/1"
    text = main_text(d.get(page))
    assert "A rebuild needs Chromium on this server, and no Chromium is configured" in text
    r = d.client.post(f"{page}/rebuild", data={})
    assert r.status_code == 400 and "did not come from this dashboard" in main_text(r)
    r = d.client.post(f"{page}/rebuild", data={"csrf_token": csrf_of(d, page)})
    assert r.status_code == 409 and "Not rebuilt: a rebuild needs Chromium" in main_text(r)
    assert audit_entries(app, "proof.rebuilt") == []


def test_the_rebuild_adds_the_screenshots_the_page_shows(app, dashboard, make_user, shop, chromium):
    d = signed_in(dashboard, make_user, "editor", shop)
    page = f"/admin/sites/{shop}/proof/1"
    r = d.submit(page, f"{page}/rebuild")
    assert r.status_code == 302 and r.headers["Location"] == page
    r = d.get(page)
    html, text = r.get_data(as_text=True), main_text(r)
    assert "Rebuilt: pack" in text and "has 6 screenshots; it supersedes pack" in text
    assert "Built, with 6 screenshots." in text and "Rebuild" not in text
    [entry] = audit_entries(app, "proof.rebuilt")
    assert entry["details"]["version"] == "1" and entry["details"]["screenshots"] is True
    pack_id = entry["details"]["pack"]
    for regime in ("opt_in", "opt_out", "notice"):
        for layer, words in (("banner", "first layer (banner)"), ("dialog", "preferences dialog")):
            src = f"{page}/packs/{pack_id}/{layer}-en-{regime}.png"
            assert f'src="{src}"' in html
            assert f'alt="The {words} in language en, regime {regime}"' in html
            img = d.get(src)
            assert img.status_code == 200 and img.mimetype == "image/png" and img.data.startswith(PNG), src
    assert d.get(f"{page}/packs/{pack_id}/config-en-opt_in.json").status_code == 404  # screenshots only
    viewer = signed_in(dashboard, make_user, "viewer", shop)
    assert viewer.get(f"{page}/packs/{pack_id}/banner-en-opt_in.png").status_code == 200
    r = d.client.post(f"{page}/rebuild", data={"csrf_token": csrf_of(d, page)})
    assert r.status_code == 409 and "has its screenshots already" in main_text(r)
