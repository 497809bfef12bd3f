"""Who reaches what, on the server, route by route: a user sees only the sites granted to them (a
site of someone else's answers 404, exactly like a key no site has, so nobody learns which sites
exist); a page their role does not allow answers 403; installation owners see every site."""
from tests.admin.conftest import main_text


def test_a_user_sees_only_the_sites_granted(dashboard, make_user, make_site):
    site_a, _ = make_site(name="Shop A")
    site_b, _ = make_site(name="Shop B")
    for role in ("owner", "editor", "privacy", "viewer"):
        d = dashboard()
        d.sign_in(make_user(role, sites=[site_a]))
        home = main_text(d.get("/admin/"))
        assert "Shop A" in home and "Shop B" not in home, role
        assert d.get(f"/admin/sites/{site_a}").status_code == 200, role
        other, unknown = d.get(f"/admin/sites/{site_b}"), d.get("/admin/sites/no-such-site")
        assert other.status_code == unknown.status_code == 404, role
        assert main_text(other).replace(site_b, "KEY") == main_text(unknown).replace("no-such-site", "KEY"), role


def test_an_installation_owner_sees_every_site_those_made_later_too(dashboard, make_user, make_site):
    make_site(name="Shop A")
    d = dashboard()
    d.sign_in(make_user("owner"))
    site_b, _ = make_site(name="Shop B")
    home = main_text(d.get("/admin/"))
    assert "Shop A" in home and "Shop B" in home
    assert d.get(f"/admin/sites/{site_b}").status_code == 200


def test_the_users_page_is_for_installation_owners_only(dashboard, make_user, make_site):
    site_a, _ = make_site(name="Shop A")
    owner = make_user("owner")
    viewer = make_user("viewer", sites=[site_a])
    site_owner = make_user("owner", sites=[site_a])
    d = dashboard()
    d.sign_in(owner)
    r = d.get("/admin/users")
    assert r.status_code == 200 and viewer in main_text(r) and site_owner in main_text(r)
    assert 'href="/admin/users"' in d.get("/admin/").get_data(as_text=True)
    for email in (viewer, site_owner):  # a site's owner could otherwise grant themselves other sites
        d = dashboard()
        d.sign_in(email)
        r = d.get("/admin/users")
        assert r.status_code == 403 and "may not manage users" in main_text(r), email
        assert 'href="/admin/users"' not in d.get("/admin/").get_data(as_text=True)


def test_the_overview_shows_the_embed_tag_and_the_settings_as_text(app, dashboard, make_user, make_site):
    site_key, _ = make_site(name="Shop <script>alert(1)</script>")
    d = dashboard()
    d.sign_in(make_user("viewer", sites=[site_key]))
    r = d.get(f"/admin/sites/{site_key}")
    html, text = r.get_data(as_text=True), main_text(r)
    assert f'<script src="http://localhost/w/{site_key}.js" async></script>' in text
    assert 'data-copy="embed-tag"' in html and "<script>alert(1)</script>" not in html
    assert "https://shop.example" in text and "version 1" in text and "analytics" in text
    assert "<script>alert(1)</script>" in text  # shown, as text


def test_pages_that_do_not_exist_answer_the_dashboards_404(dashboard, make_user):
    d = dashboard()
    assert d.get("/admin/no/such/page").status_code == 302  # signed out: to the sign-in first
    d.sign_in(make_user("owner"))
    r = d.get("/admin/no/such/page")
    assert r.status_code == 404 and r.mimetype == "text/html" and "no such page" in main_text(r)


def test_users_are_made_only_with_a_known_role_and_real_sites(runner, make_site):
    site_key, _ = make_site()
    create = lambda *args: runner.invoke(args=["users", "create", "--password-stdin", *args],  # noqa: E731
                                         input="correct horse battery staple\n")
    r = create("--email", "v@shop.example", "--role", "viewer")
    assert r.exit_code == 1 and "needs a site" in r.output
    r = create("--email", "v@shop.example", "--role", "viewer", "--site", "nope")
    assert r.exit_code == 1 and "no site with key 'nope'" in r.output
    assert create("--email", "v@shop.example", "--role", "root").exit_code == 2
    assert create("--email", "not-an-email", "--role", "owner").exit_code == 1
    r = runner.invoke(args=["users", "create", "--email", "v@shop.example", "--role", "owner", "--password-stdin"],
                      input="short\n")
    assert r.exit_code == 1 and "12 characters" in r.output
    assert create("--email", "v@shop.example", "--role", "viewer", "--site", site_key).exit_code == 0
    r = create("--email", "V@Shop.Example", "--role", "owner")
    assert r.exit_code == 1 and "exists already" in r.output
