"""Every mutation through the API or the CLI writes exactly one audit entry of its action.

The routes and commands are enumerated from the app itself: one that is neither audited below nor
listed as not needing it fails the test, so a new mutation cannot land without its entry.
"""
import json
import re
import time
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import yaml

from app.cli.common import CommandGroup
from app.extensions import db
from app.models import AuditEntry, Site
from app.services.identities import mint_token
from app.services.keyring import new_master_key
from app.services.webhooks.endpoints import create_endpoint
from tests.conftest import IPS, from_ip, make_consent

IGNORED_METHODS = {"HEAD", "OPTIONS"}
PASSWORD = "correct horse battery staple"
SIGNUP = {"source": "https://shop.example/newsletter", "wording": "Send me the newsletter.", "language": "en"}

# (method, rule) -> why it writes no entry. Reads of no personal data, or the ledger's own records.
HTTP_NOT_AUDITED = {
    ("POST", "/api/v1/consents"): "a visitor's decision: the ledger record is its own, sealed, evidence",
    ("POST", "/api/v1/consent-checks"): "a check answers yes or no, per request, at volume",
    ("POST", "/api/v1/consent-checks/batch"): "checks",
    ("POST", "/api/v1/email-consents/check"): "checks",
    ("POST", "/api/v1/email-consents/check/batch"): "checks",
    ("POST", "/api/v1/receipts/verify"): "checks a receipt the caller holds",
    ("POST", "/api/v1/identities/consent"): "a person's current state, looked up by an identifier the caller holds",
    ("GET", "/api/v1/visitors/<visitor_id>/consent"): "a visitor's current state, by the id the caller holds",
    ("GET", "/api/v1/sites/<site_key>/config"): "public configuration",
    ("GET", "/api/v1/webhooks"): "the site's endpoints, no personal data",
    ("GET", "/api/v1/scans/<scan_id>"): "a scan's status and report, no personal data",
    ("GET", "/api/v1/webhooks/<endpoint_id>/deliveries"): "delivery states, no personal data",
    ("GET", "/api/v1/audit-log"): "the log itself holds no personal data",
    ("GET", "/api/v1/stats"): "anonymous counts of decisions, no one's record",
    ("GET", "/api/v1/openapi.json"): "documentation",
    ("GET", "/api/v1/docs"): "documentation",
    ("POST", "/admin/account/second-factor/setup"): "a pending secret, in force only once a code proves it "
                                                     "(user.totp_enabled)",
    ("POST", "/admin/sites/<site_key>/preview"): "renders the editor's form in the real widget, stores nothing",
    ("POST", "/admin/sites/<site_key>/consents"): "the consent log's search, a read that changes nothing; a look-up "
                                                   "by email or external id writes consent_log.searched "
                                                   "(tests/admin/test_consent_log.py)",
}

# (group, command) -> why it writes no entry.
CLI_NOT_AUDITED = {
    ("sites", "list"): "a read of configuration",
    ("sites", "export"): "a read of configuration (no secrets, no personal data)",
    ("keys", "receipt-secrets"): "prints secrets, changes nothing (reads of secrets are not audited yet)",
    ("keys", "new-master"): "prints a random key, stores nothing",
    ("identities", "secret"): "prints a secret, changes nothing (reads of secrets are not audited yet)",
    ("identities", "token"): "mints a token, stores nothing",
    ("ledger", "seal"): "the ledger's own bookkeeping, also done from the write path every few seconds",
    ("ledger", "verify"): "a read",
    ("ledger", "anchor"): "a read of the seal heads (no personal data)",
    ("subjects", "replay-erasures"): "each erasure it re-applies writes its own subject.erased entry",
    ("geoip", "info"): "a read",
    ("webhooks", "work"): "a periodic duty; its one audited effect, a 410 disabling, is tested below as `system`",
    ("audit", "list"): "a read of the log",
    ("users", "list"): "a read of the operators' accounts (no data subject's)",
    ("stats", "rollup"): "anonymous counts kept from the ledger, its own bookkeeping (as the worker does every 10 s)",
    ("stats", "check"): "a read",
}


def entries(app):
    """Every audit entry, oldest first, as plain dicts."""
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.id)).mappings().all()
        db.session.rollback()
        return [dict(r) for r in rows]


def site_id(app, site_key):
    with app.app_context():
        return db.session.execute(sa.select(Site.id).where(Site.site_key == site_key)).scalar_one()


def path(url):
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def world(app, client, site_ctx):
    """A site with what each operation needs: a webhook, a visitor with a secret, a pending signup."""
    site_key, api_key, auth = site_ctx
    visitor = make_consent(site_key, visitor_id="v-audit-0001")
    assert client.post("/api/v1/consents", json=visitor, headers=from_ip(IPS["DE"])).status_code == 201
    with app.app_context():
        sid = site_id(app, site_key)
        endpoint_id = create_endpoint(sid, "http://127.0.0.1:9/hook", ["consent.recorded"])[0].endpoint_id
        token = mint_token(sid, email="joe@example.com")
    return {"site_key": site_key, "api_key": api_key, "auth": auth, "site_id": sid, "endpoint": endpoint_id,
            "visitor": visitor, "identity_token": token}


def http_operations(client, w):
    """(method, rule) -> a call that performs it once, successfully."""
    auth = {**w["auth"], **from_ip(IPS["FR"])}
    browser = from_ip(IPS["FR"], Origin="https://shop.example")

    return {
        ("POST", "/api/v1/identities"): ("identity.linked", "key", lambda: client.post(
            "/api/v1/identities", json={"visitor_id": "v-audit-0002", "email": "max@example.com"}, headers=auth)),
        ("POST", "/api/v1/identities/browser"): ("identity.linked", "visitor", lambda: client.post(
            "/api/v1/identities/browser", headers=browser, json={
                "site_key": w["site_key"], "visitor_id": w["visitor"]["visitor_id"],
                "visitor_secret": w["visitor"]["visitor_secret"], "token": w["identity_token"]})),
        ("POST", "/api/v1/email-consents"): ("email_consent.submitted", "key", lambda: client.post(
            "/api/v1/email-consents", json={"email": "eve@example.com", **SIGNUP}, headers=auth)),
        ("POST", "/api/v1/email-consents/withdraw"): ("email_consent.withdrawn", "key", lambda: client.post(
            "/api/v1/email-consents/withdraw", json={"email": "eve@example.com"}, headers=auth)),
        ("POST", "/c/<token>"): ("email_consent.confirmed", "visitor", lambda: client.post(
            path(w["confirm_url"]), headers=browser)),
        ("POST", "/u/<token>"): ("email_consent.withdrawn", "visitor", lambda: client.post(
            path(w["unsubscribe_url"]), data={"List-Unsubscribe": "One-Click"}, headers=browser)),
        ("POST", "/api/v1/scans"): ("scan.requested", "key", lambda: client.post(
            "/api/v1/scans", json={"url": "https://shop.example/"}, headers=auth)),
        ("POST", "/api/v1/webhooks"): ("webhook.created", "key", lambda: client.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/other", "events": ["consent.recorded"]},
            headers=auth)),
        ("POST", "/api/v1/webhooks/<endpoint_id>/rotate-secret"): ("secret.rotated", "key", lambda: client.post(
            f"/api/v1/webhooks/{w['endpoint']}/rotate-secret", headers=auth)),
        ("POST", "/api/v1/webhooks/<endpoint_id>/disable"): ("webhook.disabled", "key", lambda: client.post(
            f"/api/v1/webhooks/{w['endpoint']}/disable", headers=auth)),
        ("GET", "/api/v1/consents"): ("export.read", "key", lambda: client.get(
            "/api/v1/consents?visitor_id=v-audit-0001", headers=auth)),
        ("POST", "/api/v1/subject-requests"): ("subject_request.created", "key", lambda: client.post(
            "/api/v1/subject-requests", json={"kind": "access", "email": "max@example.com"}, headers=auth)),
        ("GET", "/api/v1/subject-requests"): ("subject_request.listed", "key", lambda: client.get(
            "/api/v1/subject-requests?status=open", headers=auth)),
        ("POST", "/api/v1/subjects/export"): ("subject.exported", "key", lambda: client.post(
            "/api/v1/subjects/export", json={"visitor_id": w["visitor"]["visitor_id"]}, headers=auth)),
        ("POST", "/api/v1/subjects/browser-export"): ("subject.exported", "visitor", lambda: client.post(
            "/api/v1/subjects/browser-export", headers=browser, json={
                "site_key": w["site_key"], "visitor_id": w["visitor"]["visitor_id"],
                "visitor_secret": w["visitor"]["visitor_secret"]})),
        ("POST", "/api/v1/subjects/erase"): ("subject.erased", "key", lambda: client.post(
            "/api/v1/subjects/erase", json={"email": "max@example.com"}, headers=auth)),
        # last: it erases the visitor the operations above use
        ("POST", "/api/v1/subjects/browser-erase"): ("subject.erased", "visitor", lambda: client.post(
            "/api/v1/subjects/browser-erase", headers=browser, json={
                "site_key": w["site_key"], "visitor_id": w["visitor"]["visitor_id"],
                "visitor_secret": w["visitor"]["visitor_secret"]})),
    }


def test_every_http_mutation_writes_one_entry_of_its_action(app, client, world):
    w = world
    signup = client.post("/api/v1/email-consents", json={"email": "ann@example.com", **SIGNUP},
                         headers=w["auth"]).json
    w["confirm_url"], w["unsubscribe_url"] = signup["confirm_url"], signup["unsubscribe_url"]
    operations = http_operations(client, w)
    routes = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods - IGNORED_METHODS
              if (m != "GET" or r.rule.startswith("/api/v1/")) and not r.rule.startswith("/admin/")}
    unclassified = routes - set(operations) - set(HTTP_NOT_AUDITED)
    assert not unclassified, f"audit these (app/services/audit.py) or say why not in HTTP_NOT_AUDITED: {unclassified}"
    assert not set(operations) & set(HTTP_NOT_AUDITED)
    key_actor = "key:" + w["api_key"][:17]
    for route, (action, actor, call) in operations.items():
        before = len(entries(app))
        r = call()
        assert r.status_code < 300, (route, r.status_code, r.get_data(as_text=True))
        new = entries(app)[before:]
        assert [e["action"] for e in new] == [action], route
        [e] = new
        assert e["actor"] == (key_actor if actor == "key" else "visitor"), route
        # an operator's address prefix is kept; a visitor's own (the data subject's) is not
        assert e["site_id"] == w["site_id"] and e["client_ip"] == ("2.2.2.0" if actor == "key" else None), route
        assert e["request_id"] == r.headers["X-Request-ID"], route


def cli_operations(app, runner, w, tmp_path, monkeypatch):
    """(group, command) -> (action, a call that performs it once, successfully)."""
    doc = json.loads(runner.invoke(args=["sites", "export", w["site_key"]]).output)
    doc["name"] = "Renamed"
    changed = tmp_path / "site.yaml"
    changed.write_text(yaml.safe_dump(doc))
    monkeypatch.setattr(app, "instance_path", str(tmp_path))  # where `demo ensure` keeps its keys
    new_key = runner.invoke(args=["keys", "create", w["site_key"]]).output.strip()
    return {
        ("sites", "create"): ("site.created", ["sites", "create", "--name", "B", "--origin", "https://b.example"]),
        ("sites", "import"): ("site.updated", ["sites", "import", str(changed)]),
        ("keys", "create"): ("key.created", ["keys", "create", w["site_key"], "--name", "ci"]),
        ("keys", "revoke"): ("key.revoked", ["keys", "revoke", new_key]),
        ("keys", "rotate-receipt"): ("secret.rotated", ["keys", "rotate-receipt", w["site_key"]]),
        ("keys", "rotate-master"): ("secret.rotated", ["keys", "rotate-master", "--old-master-key", new_master_key()]),
        ("policy", "publish"): ("policy.published", ["policy", "publish", w["site_key"], "--version", "9",
                                                     "--url", "https://shop.example/p9"]),
        ("proof", "build"): ("proof.built", ["proof", "build", w["site_key"], "--version", "9"]),
        ("proof", "rebuild"): ("proof.rebuilt", ["proof", "rebuild", w["site_key"], "--version", "9"]),
        ("proof", "export"): ("proof.exported", ["proof", "export", w["site_key"], "--version", "9",
                                                 "--out", str(tmp_path / "proof.zip")]),
        ("email-consents", "double-opt-in"): ("site.updated", ["email-consents", "double-opt-in", w["site_key"], "off"]),
        ("webhooks", "replay"): ("webhook.replayed", ["webhooks", "replay", "--site", w["site_key"]]),
        ("demo", "ensure"): (("site.created", "user.created"), ["demo", "ensure"]),
        ("ledger", "rekey"): ("ledger.rekeyed", ["ledger", "rekey", w["site_key"]]),
        ("sites", "controller"): ("site.updated", ["sites", "controller", w["site_key"], "--organisation", "Shop Ltd"]),
        ("subjects", "export"): ("subject.exported", ["subjects", "export", w["site_key"], "--visitor-id",
                                                      w["visitor"]["visitor_id"], "--out", str(tmp_path / "s.json")]),
        ("subjects", "requests"): ("subject_request.listed", ["subjects", "requests", w["site_key"]]),
        ("subjects", "erase"): ("subject.erased", ["subjects", "erase", w["site_key"], "--email", "nobody@example.com",
                                                   "--yes"]),
        ("retention", "purge"): ("retention.purged", ["retention", "purge", w["site_key"]]),
        ("users", "create"): ("user.created", ["users", "create", "--email", "ops@shop.example", "--role", "viewer",
                                               "--site", w["site_key"], "--password-stdin"], PASSWORD + "\n"),
        ("users", "reset-password"): ("user.password_reset", ["users", "reset-password", "ops@shop.example",
                                                              "--password-stdin"], "another long passphrase\n"),
        ("users", "reset-2fa"): ("user.totp_removed", ["users", "reset-2fa", "ops@shop.example"]),
        ("users", "disable"): ("user.disabled", ["users", "disable", "ops@shop.example"]),
        ("users", "enable"): ("user.enabled", ["users", "enable", "ops@shop.example"]),
        ("users", "require-2fa"): ("installation.updated", ["users", "require-2fa", "off"]),
    }


def test_every_cli_mutation_writes_one_entry_of_its_action(app, runner, world, tmp_path, monkeypatch):
    operations = cli_operations(app, runner, world, tmp_path, monkeypatch)
    commands = {(name, sub) for name, group in app.cli.commands.items() if isinstance(group, CommandGroup)
                for sub in group.commands}
    unclassified = commands - set(operations) - set(CLI_NOT_AUDITED)
    assert not unclassified, f"audit these (app/services/audit.py) or say why not in CLI_NOT_AUDITED: {unclassified}"
    for command, (action, args, *stdin) in operations.items():
        before = len(entries(app))
        r = runner.invoke(args=args, input=stdin[0] if stdin else None)
        assert r.exit_code == 0, (command, r.output)
        new = entries(app)[before:]
        assert [e["action"] for e in new] == list(action if isinstance(action, tuple) else [action]), command
        for e in new:
            assert re.fullmatch(r"cli:[^@\s]+@\S+", e["actor"]) and e["client_ip"] is None, command
            assert re.fullmatch(r"[0-9a-f]{32}", e["request_id"]) and e["request_id"] == new[0]["request_id"], command
        if command == ("keys", "rotate-master"):
            assert e["site_id"] is None and e["target_kind"] == "installation"
        if command[0] == "users":
            assert e["site_id"] is None and "shop.example" not in repr(e), command  # a user by id, never by email


def test_a_receiver_gone_disables_its_endpoint_as_the_system(app, runner, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["consent.recorded"]}, headers=auth)
    receiver.answer = 410
    client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
    r = runner.invoke(args=["webhooks", "work", "--once"])
    assert r.exit_code == 0, r.output
    last = entries(app)[-1]
    assert last["action"] == "webhook.disabled" and last["actor"] == "system" and "410" in last["details"]["reason"]


def dashboard_operations(app, runner, make_site):
    """(method, rule) -> (action, whose account is the actor, a call that performs it once), for the
    dashboard's forms, each posted with its CSRF token from its page."""
    import pyotp

    from tests.admin.conftest import Dashboard

    site_key, _ = make_site()
    for email, role in (("owner@shop.example", "owner"), ("other@shop.example", "viewer")):
        runner.invoke(args=["users", "create", "--email", email, "--role", role, "--site", site_key,
                            "--password-stdin"], input=PASSWORD + "\n")
    # an installation owner, who manages the users
    runner.invoke(args=["users", "create", "--email", "admin@shop.example", "--role", "owner", "--password-stdin"],
                  input=PASSWORD + "\n")
    d = Dashboard(app, address=IPS["FR"])
    state = {}

    def set_up():
        d.submit("/admin/account", "/admin/account/second-factor/setup")
        html = d.get("/admin/account").get_data(as_text=True)
        state["secret"] = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html).group(1)
        return d.submit("/admin/account", "/admin/account/second-factor/enable",
                        **{"enable-code": pyotp.TOTP(state["secret"]).now()})

    def code_step():
        d.sign_out()
        d.sign_in("owner@shop.example", "a second passphrase")  # the password: no entry until the code
        return d.submit("/admin/login/code", code=pyotp.TOTP(state["secret"]).at(time.time() + 30))

    banner = f"/admin/sites/{site_key}/banner?lang=en"

    def save(title):
        return d.submit(banner, banner, title=title)

    def publish():
        save("Published title")
        return d.submit(f"/admin/sites/{site_key}/publish", f"/admin/sites/{site_key}/publish")

    def discard():
        save("A title for nothing")
        return d.submit(banner, f"/admin/sites/{site_key}/banner/discard")

    a = Dashboard(app, address=IPS["FR"])
    a.sign_in("admin@shop.example", PASSWORD)
    listing = a.get("/admin/users").get_data(as_text=True)
    other = "/admin/users/" + re.search(r'href="/admin/users/(\d+)">other@', listing).group(1)
    users = {
        ("POST", "/admin/users"): ("user.created", "admin", lambda: a.submit(
            "/admin/users", "/admin/users", email="made@shop.example", role="viewer", sites=[site_key])),
        ("POST", "/admin/users/<int:user_id>"): ("user.role_changed", "admin", lambda: a.submit(
            other, other, role="editor", sites=[site_key])),
        ("POST", "/admin/users/<int:user_id>/disable"): ("user.disabled", "admin", lambda: a.submit(
            f"{other}/disable", f"{other}/disable")),
        ("POST", "/admin/users/<int:user_id>/enable"): ("user.enabled", "admin", lambda: a.submit(
            other, f"{other}/enable")),
        ("POST", "/admin/users/<int:user_id>/reset-password"): ("user.password_reset", "admin", lambda: a.submit(
            f"{other}/reset-password", f"{other}/reset-password")),
        ("POST", "/admin/users/<int:user_id>/reset-second-factor"): ("user.totp_removed", "admin", lambda: a.submit(
            f"{other}/reset-second-factor", f"{other}/reset-second-factor")),
    }

    keys = f"/admin/sites/{site_key}/keys"

    def revoke_key():
        secret = re.search(r'<code id="new-secret">([^<]+)</code>', d.submit(keys, keys).get_data(True)).group(1)
        return d.submit(f"{keys}/{secret[:17]}/revoke", f"{keys}/{secret[:17]}/revoke")

    hooks = f"/admin/sites/{site_key}/webhooks"

    def add_hook():
        r = d.submit(hooks, hooks, url="https://hooks.example.net/in", events=["consent.recorded"])
        state["endpoint"] = f"{hooks}/{re.search(r'<code>(ep_[0-9a-f]+)</code>', d.get(hooks).get_data(True)).group(1)}"
        # a decision it is owed: a dead letter once the endpoint is disabled, for the replay below
        app.test_client().post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
        return r

    def rebuild_pack():
        # a site of one language (6 screenshots), its pack built without Chromium, rebuilt with it
        small, _ = make_site(name="Small shop", languages=["en"])
        assert runner.invoke(args=["proof", "build", small, "--version", "1"]).exit_code == 0
        app.config["PROOF_CHROMIUM"] = "/usr/bin/chromium"  # tests/browser/conftest.py CHROMIUM
        try:
            return a.submit(f"/admin/sites/{small}/proof/1", f"/admin/sites/{small}/proof/1/rebuild")
        finally:
            app.config["PROOF_CHROMIUM"] = None

    requests = f"/admin/sites/{site_key}/requests"

    def record_request(kind="access"):
        return d.submit(requests, requests, **{"request-kind": kind, "request-selector": "email",
                                               "request-value": "max@example.com",
                                               "request-received_at": time.strftime("%Y-%m-%d", time.gmtime())})

    def answer(kind, action, **fields):
        record_request(kind)
        rid = re.findall(rf'/requests/([0-9a-f-]{{36}})/{action}"', d.get(requests).get_data(as_text=True))[-1]
        return d.submit(f"{requests}/{rid}/erase" if action == "erase" else requests, f"{requests}/{rid}/{action}",
                        **fields)

    return {
        ("POST", "/admin/login"): ("user.signed_in", "owner", lambda: d.sign_in("owner@shop.example", PASSWORD)),
        ("POST", "/admin/sites/<site_key>/banner"): ("draft.saved", "owner", lambda: save("A draft title")),
        ("POST", "/admin/sites/<site_key>/publish"): ("policy.published", "owner", publish),
        ("POST", "/admin/sites/<site_key>/banner/discard"): ("draft.discarded", "owner", discard),
        ("POST", "/admin/sites/<site_key>/keys"): ("key.created", "owner", lambda: d.submit(keys, keys, name="ci")),
        ("POST", "/admin/sites/<site_key>/keys/<key_id>/revoke"): ("key.revoked", "owner", revoke_key),
        ("POST", "/admin/sites/<site_key>/settings"): ("site.updated", "owner", lambda: d.submit(
            f"/admin/sites/{site_key}/settings", f"/admin/sites/{site_key}/settings", email_double_opt_in="off")),
        ("POST", "/admin/sites/<site_key>/webhooks"): ("webhook.created", "owner", add_hook),
        ("POST", "/admin/sites/<site_key>/scans"): ("scan.requested", "owner", lambda: d.submit(
            f"/admin/sites/{site_key}/scans", f"/admin/sites/{site_key}/scans", url="https://pages.example.net/")),
        ("POST", "/admin/sites/<site_key>/webhooks/<endpoint_id>/rotate"): (
            "secret.rotated", "owner", lambda: d.submit(hooks, f"{state['endpoint']}/rotate")),
        ("POST", "/admin/sites/<site_key>/webhooks/<endpoint_id>/disable"): (
            "webhook.disabled", "owner", lambda: d.submit(*[f"{state['endpoint']}/disable"] * 2)),
        ("POST", "/admin/sites/<site_key>/webhooks/<endpoint_id>/replay"): (
            "webhook.replayed", "owner", lambda: d.submit(hooks, f"{state['endpoint']}/replay")),
        ("POST", "/admin/sites/<site_key>/proof/<version>/rebuild"): ("proof.rebuilt", "admin", rebuild_pack),
        ("POST", "/admin/sites/<site_key>/requests"): ("subject_request.created", "owner", record_request),
        ("POST", "/admin/sites/<site_key>/requests/<request_id>/export"): ("subject.exported", "owner", lambda: answer(
            "access", "export")),
        ("POST", "/admin/sites/<site_key>/requests/<request_id>/erase"): ("subject.erased", "owner", lambda: answer(
            "erasure", "erase", **{"erase-confirm": "ERASE"})),
        ("POST", "/admin/account/password"): ("user.password_changed", "owner", lambda: d.submit(
            "/admin/account", "/admin/account/password", **{
                "password-current_password": PASSWORD, "password-new_password": "a second passphrase",
                "password-repeat_password": "a second passphrase"})),
        ("POST", "/admin/account/second-factor/enable"): ("user.totp_enabled", "owner", set_up),
        ("POST", "/admin/login/code"): ("user.signed_in", "owner", code_step),
        ("POST", "/admin/account/second-factor/remove"): ("user.totp_removed", "owner", lambda: d.submit(
            "/admin/account", "/admin/account/second-factor/remove", **{"remove-password": "a second passphrase"})),
        ("POST", "/admin/logout"): ("user.signed_out", "owner", d.sign_out),
        **users,
    }


# dashboard POSTs that answer with a page showing a new secret (never put in a redirect or the session)
SHOWN_ONCE = {("POST", "/admin/sites/<site_key>/keys"), ("POST", "/admin/sites/<site_key>/webhooks"),
              ("POST", "/admin/sites/<site_key>/webhooks/<endpoint_id>/rotate"), ("POST", "/admin/users"),
              ("POST", "/admin/users/<int:user_id>/reset-password")}

# dashboard POSTs that answer a download, not a redirect
DOWNLOADS = {("POST", "/admin/sites/<site_key>/requests/<request_id>/export")}


def test_every_dashboard_mutation_writes_one_entry_as_its_user(app, runner, make_site):
    from tests.admin.conftest import user_id

    operations = dashboard_operations(app, runner, make_site)
    routes = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods - IGNORED_METHODS
              if m != "GET" and r.rule.startswith("/admin/")}
    unclassified = routes - set(operations) - set(HTTP_NOT_AUDITED)
    assert not unclassified, f"audit these (app/services/audit.py) or say why not in HTTP_NOT_AUDITED: {unclassified}"
    actors = {"owner": f"user:{user_id(runner, 'owner@shop.example')}",
              "admin": f"user:{user_id(runner, 'admin@shop.example')}"}
    for route, (action, whose, call) in operations.items():
        owner = actors[whose]
        before = len(entries(app))
        r = call()
        # a redirect, a download, or the answer page that shows a new secret once
        expected = (200, 302) if route in SHOWN_ONCE else (200,) if route in DOWNLOADS else (302,)
        assert r.status_code in expected, (route, r.status_code, r.get_data(as_text=True)[-500:])
        new = entries(app)[before:]
        assert [e["action"] for e in new][-1:] == [action], (route, new)
        e = new[-1]
        assert e["actor"] == owner and e["client_ip"] == "2.2.2.0" and "shop.example" not in repr(e), route
        # a change to the site (its keys, endpoints), or a person's data read or erased, by its user
        if route[1].startswith("/admin/sites/"):
            assert e["target_kind"] in ("site", "email", "api_key", "webhook", "scan") and e["site_id"] is not None, \
                route
        elif route[1].startswith("/admin/users"):  # a change to another user's account, by an installation owner
            assert e["target_kind"] == "user" and e["target_id"] != owner[5:] and e["site_id"] is None, route
        else:  # a change to the user's own account
            assert e["target_kind"] == "user" and e["target_id"] == owner[5:] and e["site_id"] is None, route
        assert e["request_id"] == r.headers["X-Request-ID"], route
