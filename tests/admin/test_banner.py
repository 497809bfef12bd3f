"""The banner editor through HTTP: a draft that visitors never see, a preview of the real widget
fed the draft, publishing (with or without asking everyone again), and the roles it takes."""
import json
import re

import pytest

from tests.admin.conftest import audit_entries, main_text, user_id
from tests.conftest import IPS, from_ip

NEW_DE = "Wir fragen Sie neu: nur mit Ihrer Erlaubnis."


def widget_config(client, site_key, lang="de", ip=IPS["DE"]):
    """The configuration /w/<site_key>.js inlines for a visitor from `ip` reading `lang`."""
    r = client.get(f"/w/{site_key}.js", headers=from_ip(ip, **{"Accept-Language": lang}))
    assert r.status_code == 200
    return inlined(r.get_data(as_text=True))


def inlined(script):
    """The configuration object the built widget carries (the one JSON object after `main(`)."""
    start = script.index('{"site_key"')
    return json.JSONDecoder().raw_decode(script[start:])[0]


@pytest.fixture
def editor(dashboard, make_user, site):
    """(a dashboard signed in as the site's editor, site key, the editor's email)."""
    email = make_user("editor", sites=[site[0]])
    d = dashboard()
    assert d.sign_in(email).status_code == 302
    return d, site[0], email


def test_a_draft_is_previewed_then_published_and_only_then_served(app, client, runner, editor):
    d, key, email = editor
    page = f"/admin/sites/{key}/banner?lang=de"
    r = d.get(page)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for name in ("title", "description", "accept_all", "reject_all", "settings"):
        assert f'name="{name}"' in html
    assert "frame-src 'self'" in r.headers["Content-Security-Policy"]
    before = widget_config(client, key)["texts"]["description"]

    r = d.submit(page, f"/admin/sites/{key}/banner?lang=de", description=NEW_DE)
    assert r.status_code == 302, main_text(r)
    # saved as a draft: visitors still get the published text
    assert widget_config(client, key)["texts"]["description"] == before
    # the preview is the real widget with the draft inlined, framed by the dashboard only
    p = d.get(f"/admin/sites/{key}/preview?lang=de&regime=opt_in")
    assert p.status_code == 200 and p.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in p.headers["Content-Security-Policy"]
    config = inlined(p.get_data(as_text=True))
    assert (config["texts"]["description"], config["regime"], config["language"]) == (NEW_DE, "opt_in", "de")
    with open(app.static_folder + "/widget.js", encoding="utf-8") as f:
        assert f.read().split("__OPSIQ_CONFIG__")[0] in p.get_data(as_text=True)  # the same bytes
    nonce = re.search(r"'nonce-([^']+)'", p.headers["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in p.get_data(as_text=True)
    for regime in ("opt_out", "notice"):
        assert inlined(d.get(f"/admin/sites/{key}/preview?lang=de&regime={regime}").get_data(as_text=True)
                       )["regime"] == regime

    r = d.get(f"/admin/sites/{key}/publish")
    assert "texts.de.description" in main_text(r) and NEW_DE in main_text(r)
    r = d.submit(f"/admin/sites/{key}/publish", f"/admin/sites/{key}/publish")  # "Ask every visitor again" is on
    assert r.status_code == 302
    after = widget_config(client, key)
    assert after["texts"]["description"] == NEW_DE and after["policy"]["version"] == "2"
    assert "as policy version 2: every visitor is asked again" in main_text(d.get(f"/admin/sites/{key}/banner"))
    actor = f"user:{user_id(runner, email)}"
    assert [e["actor"] for e in audit_entries(app, "draft.saved")] == [actor]
    assert [(e["actor"], e["details"]["languages"]) for e in audit_entries(app, "texts.changed")] == [(actor, ["de"])]
    assert [e["details"]["version"] for e in audit_entries(app, "policy.published") if e["actor"] == actor] == ["2"]
    # published: nothing left to publish
    assert "nothing to publish" in main_text(d.get(f"/admin/sites/{key}/publish"))


def test_the_preview_shows_what_is_typed_and_saves_nothing(app, client, editor):
    d, key, _ = editor
    page = f"/admin/sites/{key}/banner?lang=en"
    fields = d.form(page, f"/admin/sites/{key}/banner?lang=en")
    fields.update(title="Typed, not saved", preview_regime="opt_out")
    r = d.client.post(f"/admin/sites/{key}/preview", data=fields)
    assert r.status_code == 200
    config = inlined(r.get_data(as_text=True))
    assert (config["texts"]["title"], config["regime"]) == ("Typed, not saved", "opt_out")
    assert "No unpublished changes" in main_text(d.get(page))
    assert audit_entries(app, "draft.saved") == []


def test_a_correction_publishes_a_version_without_asking_again(app, client, editor):
    d, key, _ = editor
    page = f"/admin/sites/{key}/banner?lang=en"
    assert d.submit(page, page, accept_all="Accept everything").status_code == 302
    r = d.submit(f"/admin/sites/{key}/publish", f"/admin/sites/{key}/publish", ask_again="")
    assert r.status_code == 302
    # a new version (its own content hash and proof pack) that accepts the choices made under the old one
    config = widget_config(client, key, "en")
    assert config["texts"]["accept_all"] == "Accept everything"
    assert (config["policy"]["version"], config["policy"]["accepts"]) == ("2", ["1", "2"])
    assert "as policy version 2, a correction" in main_text(d.get(page))
    assert [e["details"] for e in audit_entries(app, "policy.published")][-1]["asks_again"] is False
    # the next that asks again starts afresh
    assert d.submit(page, page, accept_all="Accept all").status_code == 302
    assert d.submit(f"/admin/sites/{key}/publish", f"/admin/sites/{key}/publish").status_code == 302
    assert widget_config(client, key, "en")["policy"]["accepts"] == ["3"]


def test_purposes_origins_and_overrides_are_edited_and_checked(client, editor):
    d, key, _ = editor
    page = f"/admin/sites/{key}/banner?lang=en"
    r = d.submit(page, page, **{"purpose-analytics-title": "Audience measurement",
                                "purpose-analytics-cookies": "_ga*, _gid",
                                "origins": "https://shop.example\nhttps://www.shop.example",
                                "regime_overrides": "US-NY = opt_in", "new-purpose-slug": "video",
                                "new-purpose-title": "Embedded videos"})
    assert r.status_code == 302, main_text(r)
    fields = d.form(page, page)
    assert fields["purpose-analytics-title"] == "Audience measurement"
    assert fields["purpose-analytics-cookies"] == "_ga*, _gid" and fields["purpose-video-title"] == "Embedded videos"
    assert fields["origins"] == "https://shop.example\nhttps://www.shop.example"
    # a broken override is refused with the reason, what was typed kept on the page, the draft unchanged
    r = d.submit(page, page, regime_overrides="US-NY = maybe")
    assert r.status_code == 422 and "regime_overrides.US-NY: must be one of" in main_text(r)
    assert d.form(page, page)["regime_overrides"].strip() == "US-NY = opt_in"
    r = d.submit(page, page, regime_overrides="just words")
    assert r.status_code == 422 and "not `CODE = regime`: just words" in main_text(r)


def test_roles_the_editor_takes(app, client, dashboard, make_user, site, make_site):
    key = site[0]
    owner = dashboard()
    owner.sign_in(make_user("owner", sites=[key]))
    token_form = owner.form(f"/admin/sites/{key}/banner?lang=en", f"/admin/sites/{key}/banner?lang=en")
    for role in ("viewer", "privacy"):
        d = dashboard()
        assert d.sign_in(make_user(role, sites=[key])).status_code == 302
        assert d.get(f"/admin/sites/{key}/banner").status_code == 403
        assert d.get(f"/admin/sites/{key}/preview").status_code == 403
        assert d.get(f"/admin/sites/{key}/publish").status_code == 403
        token = re.search(r'name="csrf_token" value="([^"]+)"', d.get("/admin/").get_data(as_text=True)).group(1)
        r = d.client.post(f"/admin/sites/{key}/banner?lang=en", data={**token_form, "csrf_token": token})
        assert r.status_code == 403, role  # refused by the server, not only hidden
        assert d.client.post(f"/admin/sites/{key}/publish", data={"csrf_token": token}).status_code == 403
        assert f"/admin/sites/{key}/banner" not in d.get(f"/admin/sites/{key}").get_data(as_text=True)  # no link
    other, _ = make_site(name="Other")
    assert owner.get(f"/admin/sites/{other}/banner").status_code == 404  # not granted: no such site
    assert audit_entries(app, "draft.saved") == []


def test_theme_colours_are_checked_for_contrast_previewed_and_published(client, editor):
    d, key, _ = editor
    page = f"/admin/sites/{key}/banner?lang=en"
    r = d.submit(page, page, **{"theme-accent": "#FFEE00"})  # white button text on yellow: unreadable
    assert r.status_code == 422
    assert "the buttons' text on the accent has a contrast of 1.20:1" in main_text(r) and "4.5:1" in main_text(r)
    r = d.submit(page, page, **{"theme-bg": "navy"})
    assert r.status_code == 422 and "theme.bg: 'navy' is not a #rrggbb colour" in main_text(r)
    r = d.submit(page, page, **{"theme-bg": "#FFF8E7", "theme-accent": "#7C2D12"})
    assert r.status_code == 302, main_text(r)
    preview = inlined(d.get(f"/admin/sites/{key}/preview?lang=en").get_data(as_text=True))
    assert preview["theme"] == {"bg": "#fff8e7", "accent": "#7c2d12"}
    assert "theme" not in widget_config(client, key, "en")  # not published yet: the defaults
    d.submit(f"/admin/sites/{key}/publish", f"/admin/sites/{key}/publish", ask_again="")
    assert widget_config(client, key, "en")["theme"] == {"bg": "#fff8e7", "accent": "#7c2d12"}
