"""The dashboard through HTTP, as a browser uses it: each form fetched first and posted back with the
CSRF token it carries (the test app checks tokens as production does), users made with the CLI.

Every Dashboard comes from an address of its own and every user has an email of its own, so that
the sign-in throttle's counters (kept by the session's app across tests) never carry from one
test to another.
"""
import html as html_text
import itertools
import re
import uuid
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry

PASSWORD = "correct horse battery staple"
_addresses = itertools.count(1)


class Forms(HTMLParser):
    """The forms of a page: each one's action and the values its fields would send, by name, as a
    browser sends them (a checkbox only when checked, a textarea's text, a select's chosen option;
    a field outside its form joins the one its `form` attribute names)."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self._text = self._select = None

    def _target(self, attrs):
        if attrs.get("form"):
            return next((f for f in self.forms if f["id"] == attrs["form"]), None)
        return self.forms[-1] if self.forms and self.forms[-1]["open"] else None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "id": attrs.get("id"), "fields": {}, "open": True})
            return
        form = self._target(attrs)
        if form is None or not attrs.get("name"):
            if tag == "option" and self._select is not None and ("selected" in attrs or self._select[2] is None):
                self._select[0]["fields"][self._select[1]] = attrs.get("value") or ""
                self._select[2] = True if "selected" in attrs else None
            return
        name = attrs["name"]
        if tag == "input" and attrs.get("type") in ("checkbox", "radio"):
            if "checked" in attrs:
                form["fields"][name] = attrs.get("value") or "on"
        elif tag == "input" and attrs.get("type") not in ("submit", "button"):
            form["fields"][name] = attrs.get("value") or ""
        elif tag == "textarea":
            self._text = (form, name, [])
        elif tag == "select":
            self._select = [form, name, None]

    def handle_data(self, data):
        if self._text is not None:
            self._text[2].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._text is not None:
            form, name, parts = self._text
            form["fields"][name] = "".join(parts).removeprefix("\n")
            self._text = None
        elif tag == "select":
            self._select = None
        elif tag == "form" and self.forms:
            self.forms[-1]["open"] = False


def page_forms(html):
    parser = Forms()
    parser.feed(html)
    return parser.forms


def main_text(response):
    """The text of a page's <main>, tags dropped, spaces squeezed (what a reader reads)."""
    html = response.get_data(as_text=True)
    found = re.search(r"<main.*?</main>", html, re.S)
    return " ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", found.group(0) if found else html)).split())


def new_address():
    """A public IPv4 address no other Dashboard of this run uses (in 81.169.0.0/16, placed in DE)."""
    n = next(_addresses)
    return f"81.169.{n // 250 % 250}.{n % 250 + 1}"


class Dashboard:
    """One browser on the dashboard: the test client with its own cookie jar and client address."""

    def __init__(self, app, address=None, **client_kw):
        self.client = app.test_client(**client_kw)
        self.address = address or new_address()
        self.client.environ_base["HTTP_X_FORWARDED_FOR"] = self.address

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def form(self, page, action=None):
        """The fields of the form on `page` that posts to `action` (the page itself when None)."""
        r = self.get(page)
        assert r.status_code == 200, (page, r.status_code)
        for form in page_forms(r.get_data(as_text=True)):
            if form["action"] == action:
                return dict(form["fields"])
        raise AssertionError(f"no form posting to {action!r} on {page}")

    def submit(self, page, action=None, token=True, headers=None, **fields):
        """Fill the form on `page` that posts to `action` and post it (without its CSRF token when
        `token` is False). Field names are the form's, prefix included (`password-current_password`)."""
        data = self.form(page, action)
        if not token:
            data = {k: v for k, v in data.items() if not k.endswith("csrf_token")}
        data.update(fields)
        return self.client.post(action or page, data=data, headers=headers or {})

    def sign_in(self, email, password=PASSWORD):
        return self.submit("/admin/login", email=email, password=password)

    def sign_in_with_code(self, code):
        return self.submit("/admin/login/code", code=code)

    def sign_out(self):
        return self.submit("/admin/", "/admin/logout")

    def session_cookie(self):
        return self.client.get_cookie("opsiq_session", path="/admin")


@pytest.fixture
def dashboard(app):
    """dashboard(**kw) -> a new Dashboard (a browser of its own, from an address of its own)."""
    return lambda **kw: Dashboard(app, **kw)


@pytest.fixture
def make_user(runner):
    """make_user(role='owner', sites=(), password=PASSWORD) -> the email of a user made by `flask users create`."""

    def make(role="owner", sites=(), password=PASSWORD, email=None):
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@shop.example"
        args = ["users", "create", "--email", email, "--role", role, "--password-stdin"]
        for key in sites:
            args += ["--site", key]
        r = runner.invoke(args=args, input=password + "\n")
        assert r.exit_code == 0, r.output
        return email

    return make


def user_id(runner, email):
    """A user's id, as `flask users list --json` gives it."""
    import json

    [row] = [u for u in json.loads(runner.invoke(args=["users", "list", "--json"]).output) if u["email"] == email]
    return row["id"]


def audit_entries(app, action=None):
    """The audit entries (dicts), oldest first, of one action or all."""
    with app.app_context():
        q = sa.select(AuditEntry.__table__).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        rows = [dict(r) for r in db.session.execute(q).mappings()]
        db.session.rollback()
        return rows
