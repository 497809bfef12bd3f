"""The one table of roles and permissions (app/services/users/roles.py), as the issue sets it:
owner everything (keys, users, erasure included), editor the banner, purposes, policies and
webhooks, privacy the consent log, exports, data-subject requests and audit log, viewer read only."""
from types import SimpleNamespace

import pytest

from app.services.users import roles

SITE, OTHER = 1, 2


def user(role, sites=(SITE,), all_sites=False, disabled=False):
    return SimpleNamespace(role=role, all_sites=all_sites, disabled=disabled, site_ids=set(sites))


def test_each_role_has_the_permissions_the_issue_gives_it():
    assert roles.permissions(user("viewer"), SITE) == {"site.read"}
    assert roles.permissions(user("editor"), SITE) == {"site.read", "banner.edit", "purposes.edit", "policy.publish",
                                                       "proof.rebuild", "webhooks.edit", "scans.run"}
    assert roles.permissions(user("privacy"), SITE) == {"site.read", "consent_log.read", "subjects.export",
                                                        "subject_requests.manage", "audit.read"}
    assert roles.permissions(user("owner"), SITE) == set(roles.PERMISSIONS) - {"users.manage"}
    assert "subjects.erase" not in roles.permissions(user("privacy"), SITE)  # erasure is the owner's


def test_every_role_reads_proof_packs_and_only_owners_and_editors_rebuild_them():
    for role in roles.ROLES:  # the packs' pages need site.read only: privacy officers and viewers read them too
        assert roles.may(user(role), "site.read", SITE), role
        assert roles.may(user(role), "proof.rebuild", SITE) is (role in ("owner", "editor")), role
    assert not roles.may(user("editor"), "proof.rebuild", OTHER)


def test_nothing_on_a_site_not_granted_and_nothing_at_all_when_disabled():
    for role in roles.ROLES:
        assert roles.permissions(user(role), OTHER) == set()
        assert roles.permissions(user(role, disabled=True), SITE) == set()
    assert roles.may(user("viewer", sites=(), all_sites=True), "site.read", OTHER)


def test_managing_users_is_for_installation_owners_only():
    assert roles.may(user("owner", sites=(), all_sites=True), "users.manage")
    assert not roles.may(user("owner"), "users.manage")  # a site's owner
    assert not roles.may(user("privacy", all_sites=True), "users.manage")


def test_asking_wrongly_is_a_bug():
    with pytest.raises(ValueError):
        roles.may(user("owner"), "site.delete", SITE)
    with pytest.raises(ValueError):
        roles.may(user("owner"), "banner.edit")  # of which site?
    with pytest.raises(ValueError):
        roles.may(user("owner"), "users.manage", SITE)
