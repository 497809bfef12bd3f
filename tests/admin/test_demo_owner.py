"""`make run`'s `flask demo ensure`: the installation's first owner, made once with a random password
printed beside the site key; later runs make no other and change nothing."""
import json
import re

from tests.admin.conftest import main_text


def test_demo_ensure_makes_one_owner_once_and_prints_the_password(app, runner, dashboard, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    first = runner.invoke(args=["demo", "ensure"])
    assert first.exit_code == 0, first.output
    site_key = re.search(r"demo site_key: (\S+)", first.output).group(1)
    email, password = re.search(r"sign in as (\S+), password (\S+)", first.output).groups()
    assert len(password) >= 16
    second = runner.invoke(args=["demo", "ensure"])
    assert second.output == first.output
    users = json.loads(runner.invoke(args=["users", "list", "--json"]).output)
    assert [(u["email"], u["role"], u["sites"]) for u in users] == [(email, "owner", "all")]
    d = dashboard()
    assert d.sign_in(email, password).status_code == 302
    assert site_key in main_text(d.get("/admin/")) and "Demo shop" in main_text(d.get("/admin/"))
    assert (tmp_path / "demo-site.json").stat().st_mode & 0o077 == 0  # the password's file is the owner's only
