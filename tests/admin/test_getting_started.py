"""The overview's Getting started: the tag, the markup that gates a script and a frame, and whether the
tag has been seen working on each of the site's origins (its widget loaded from a page there, a
decision received from there), learnt from the real widget and consent endpoints."""
from tests.admin.conftest import main_text
from tests.conftest import IPS, from_ip, make_consent


def test_the_tag_is_seen_working_on_the_sites_own_origins_only(app, client, dashboard, make_user, make_site):
    key, _ = make_site(origins=("https://shop.example", "https://www.shop.example"))
    d = dashboard()
    d.sign_in(make_user("viewer", sites=[key]))
    text = main_text(d.get(f"/admin/sites/{key}"))
    assert f'<script src="http://localhost/w/{key}.js" async></script>' in text
    assert '<script type="text/plain" data-consent="analytics"' in text
    assert 'data-src="https://video.example/embed/123"' in text
    assert text.count("Not yet") == 4

    # a page elsewhere, or no page at all, proves nothing
    client.get(f"/w/{key}.js", headers=from_ip(IPS["DE"], Referer="https://copycat.example/page"))
    client.get(f"/w/{key}.js", headers=from_ip(IPS["DE"]))
    assert main_text(d.get(f"/admin/sites/{key}")).count("Not yet") == 4
    client.get(f"/w/{key}.js", headers=from_ip(IPS["DE"], Referer="https://shop.example/shoes?size=42"))
    r = client.post("/api/v1/consents", json=make_consent(key),
                    headers=from_ip(IPS["DE"], Origin="https://www.shop.example"))
    assert r.status_code == 201, r.json
    client.get(f"/api/v1/sites/{key}/config", headers=from_ip(IPS["DE"], Origin="https://www.shop.example"))
    text = main_text(d.get(f"/admin/sites/{key}"))
    # shop.example: loaded, no decision yet; www.shop.example: both
    assert text.count("Not yet") == 1 and text.count("Yes, ") == 3, text
    assert "shoes" not in text  # an origin, never the page
    # seen once is enough: later ones change nothing
    client.get(f"/w/{key}.js", headers=from_ip(IPS["DE"], Referer="https://shop.example/other"))
    assert main_text(d.get(f"/admin/sites/{key}")) == text
