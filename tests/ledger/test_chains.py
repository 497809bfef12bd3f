"""Email consent records and audit entries join the chain: sealed by `flask ledger seal` (and the
worker), checked by `flask ledger verify` like consent records. An edit, an insertion or a removal
is named; a rewrite of the rows and their seals without the master key is caught; removing the
newest seals is caught against an anchor; the lawful deletions (erasure, audit retention) verify."""
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.hashing import canonical_json, sha256_hex
from app.ledger import chains
from app.models import AuditEntry, ChainDeletion, ChainSeal, EmailConsentRecord, utcnow
from app.services import audit
from tests.api.test_subjects import auth, email_consent
from tests.ledger.test_integrity import site_id


def seal_all(runner, *site_key):
    r = runner.invoke(args=["ledger", "seal", *site_key, "--lag", "0"])
    assert r.exit_code == 0, r.output
    return r.output


def chain_problems(runner, site_key, name, *extra):
    """(exit code, {(kind, row or seq)}) of `flask ledger verify SITE --json` for one side chain."""
    r = runner.invoke(args=["ledger", "verify", site_key, "--json", *extra])
    report = json.loads(r.output)[site_key]["chains"][name]
    return r.exit_code, {(p["kind"], p.get("row", p.get("seq", p.get("deletion")))) for p in report["problems"]}


@pytest.fixture
def mailing(app, client, runner, site):
    """A site with two addresses' email consents and its audit entries, all sealed."""
    site_key, api_key = site
    email_consent(client, api_key, "ann@example.com", "Ann's letter")
    email_consent(client, api_key, "bob@example.com", "Bob's letter")
    r = client.post("/api/v1/email-consents/withdraw", json={"email": "bob@example.com"}, headers=auth(api_key))
    assert r.status_code == 200, r.json
    out = seal_all(runner, site_key)
    with app.app_context():
        rows = db.session.execute(sa.select(EmailConsentRecord.id).order_by(EmailConsentRecord.id)).scalars().all()
        db.session.remove()
    assert f"{site_key}: sealed {len(rows)} email record(s)" in out, out
    return site_key, api_key, rows


def test_email_records_and_audit_entries_are_sealed_and_verify(app, runner, mailing):
    site_key, _, rows = mailing
    r = runner.invoke(args=["ledger", "verify", site_key])
    assert r.exit_code == 0, r.output
    assert f"{site_key} email chain: OK ({len(rows)} sealed in 1 seal(s), 0 not yet sealed)" in r.output
    assert f"{site_key} audit chain: OK (" in r.output
    with app.app_context():
        seal = db.session.execute(sa.select(ChainSeal).where(ChainSeal.chain == "audit")).scalar_one()
        entries = db.session.execute(sa.select(AuditEntry.id).where(AuditEntry.site_id.isnot(None))).scalars().all()
        assert [i for i, _ in seal.entries] == sorted(entries) and seal.mac
        db.session.remove()
    # a second seal chains to the first; nothing new, nothing sealed
    assert f"{site_key}: sealed 0 email record(s)" in seal_all(runner, site_key)


def test_an_edit_insertion_or_removal_of_an_email_record_is_named(app, runner, mailing):
    site_key, _, rows = mailing
    with app.app_context():
        t = EmailConsentRecord.__table__
        db.session.execute(sa.update(t).where(t.c.id == rows[0]).values(wording="Ann agreed to everything"))
        db.session.execute(sa.delete(t).where(t.c.id == rows[1]))
        forged = dict(db.session.execute(sa.select(t).where(t.c.id == rows[2])).mappings().one())
        del forged["id"]
        forged.update(record_id="0" * 36, created_at=utcnow().replace(year=2020))
        new_id = db.session.execute(sa.insert(t).values(**forged)).inserted_primary_key[0]
        db.session.commit()
        db.session.remove()
    code, found = chain_problems(runner, site_key, "email")
    assert code == 1
    assert found == {("altered", rows[0]), ("removed", rows[1]), ("inserted", new_id)}, found


def test_an_audit_entry_rewritten_with_its_own_hash_is_still_caught(app, runner, mailing):
    site_key = mailing[0]
    with app.app_context():
        entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.site_id.isnot(None))
                                   .order_by(AuditEntry.id)).scalars().first()
        entry.actor = "cli:someone-else@elsewhere"
        entry.entry_hash = audit.entry_hash(audit.entry_fields(entry))  # consistent in itself
        db.session.commit()
        target = entry.id
        db.session.remove()
    assert chain_problems(runner, site_key, "audit") == (1, {("altered", target)})


def test_a_rewrite_of_rows_and_seals_without_the_master_key_is_caught(app, runner, mailing):
    site_key, _, rows = mailing
    with app.app_context():
        t = EmailConsentRecord.__table__
        db.session.execute(sa.update(t).where(t.c.id == rows[0]).values(wording="Ann agreed to everything"))
        seal = db.session.execute(sa.select(ChainSeal).where(ChainSeal.chain == "email")).scalar_one()
        row = db.session.execute(sa.select(t).where(t.c.id == rows[0])).mappings().one()
        # the rules are public: recompute the row's hash, the seal's entries and its hash, as an
        # attacker with the database alone can; only the MAC is out of reach
        entries = [[i, chains.EMAIL.row_hash(row) if i == rows[0] else h] for i, h in seal.entries]
        seal.entries = entries
        seal.seal_hash = sha256_hex(canonical_json({"chain": "email", "scope": seal.scope, "prev": seal.prev_hash,
                                                    "seq": seal.seq, "entries": entries}))
        db.session.commit()
        db.session.remove()
    assert chain_problems(runner, site_key, "email") == (1, {("seal_forged", 1)})


def test_removing_the_newest_seals_and_entries_is_caught_against_an_anchor(app, client, runner, mailing, tmp_path):
    site_key, api_key, _ = mailing
    email_consent(client, api_key, "cy@example.com", "Cy's letter")  # audited: a second audit seal
    seal_all(runner, site_key)
    anchor = tmp_path / "anchor.json"
    r = runner.invoke(args=["ledger", "anchor", "--out", str(anchor)])
    assert r.exit_code == 0, r.output
    assert json.loads(anchor.read_text())["chains"][site_key]["audit"]["seq"] == 2
    with app.app_context():
        last = db.session.execute(sa.select(ChainSeal).where(ChainSeal.chain == "audit", ChainSeal.seq == 2)
                                  ).scalar_one()
        db.session.execute(sa.delete(AuditEntry.__table__).where(AuditEntry.id.between(last.first_id, last.last_id)))
        db.session.delete(last)
        db.session.commit()
        db.session.remove()
    assert chain_problems(runner, site_key, "audit") == (0, set())  # a shorter chain, consistent in itself
    assert chain_problems(runner, site_key, "audit", "--anchor", str(anchor)) == (1, {("anchor_missing", 2)})


def test_an_erased_persons_email_records_go_under_a_deletion_entry_that_verifies(app, client, runner, mailing):
    site_key, api_key, rows = mailing
    r = client.post("/api/v1/subjects/erase", json={"email": "bob@example.com"}, headers=auth(api_key))
    assert r.status_code == 200 and r.json["email_consent_records"] == 2, r.json
    r = runner.invoke(args=["ledger", "verify", site_key])
    assert r.exit_code == 0, r.output
    assert f"{site_key} email chain: OK ({len(rows)} sealed in 1 seal(s), 0 not yet sealed, 2 deleted)" in r.output
    with app.app_context():
        [deletion] = db.session.execute(sa.select(ChainDeletion)).scalars().all()
        assert (deletion.chain, deletion.record_count) == ("email", 2)
        assert deletion.reason == "subject erasure without request"
        assert "bob" not in json.dumps(deletion.ranges)
        # one more sealed row gone, beyond what the entry deleted, is still a removal
        db.session.execute(sa.delete(EmailConsentRecord.__table__).where(EmailConsentRecord.id == rows[0]))
        db.session.commit()
        db.session.remove()
    assert chain_problems(runner, site_key, "email") == (1, {("removed", rows[0])})


def test_a_deletion_entry_without_the_ledgers_mac_vouches_for_nothing(app, runner, mailing):
    site_key, _, rows = mailing
    with app.app_context():
        sid = site_id(site_key)
        db.session.add(ChainDeletion(chain="email", scope=sid, deleted_at=utcnow(), reason="tidying up",
                                     ranges=[[rows[0], rows[0]]], record_count=1, mac="0" * 64))
        db.session.execute(sa.delete(EmailConsentRecord.__table__).where(EmailConsentRecord.id == rows[0]))
        db.session.commit()
        forged = db.session.execute(sa.select(ChainDeletion.id)).scalar_one()
        db.session.remove()
    assert chain_problems(runner, site_key, "email") == (1, {("deletion_forged", forged), ("removed", rows[0])})


def test_the_installations_own_audit_entries_are_a_chain_of_their_own(app, runner, site):
    r = runner.invoke(args=["webhooks", "replay"])  # every site's dead letters: an installation-wide entry
    assert r.exit_code == 0, r.output
    out = seal_all(runner)
    assert "(installation): sealed 1 audit entry(s)" in out, out
    r = runner.invoke(args=["ledger", "verify"])
    assert r.exit_code == 0 and "(installation) audit chain: OK (1 sealed in 1 seal(s)" in r.output, r.output
    with app.app_context():
        db.session.execute(sa.update(AuditEntry.__table__).where(AuditEntry.site_id.is_(None))
                           .values(details={"queued": 0, "note": "nothing to see"}))
        db.session.commit()
        db.session.remove()
    r = runner.invoke(args=["ledger", "verify"])
    assert r.exit_code == 1 and "(installation) audit chain: TAMPERED" in r.output, r.output
    assert "audit entry" in r.output and "does not match its own hash" not in r.output


def test_an_entry_put_between_two_seals_ranges_is_named(app, client, runner, mailing):
    site_key, api_key, _ = mailing
    sid = site_id_of(app, site_key)
    with app.app_context():  # another site's entry between this site's two audit seals
        db.session.add(AuditEntry(created_at=utcnow(), site_id=None, actor="system", action="webhook.replayed",
                                  target_kind="installation", target_id=None, details={}, entry_hash="0" * 64))
        db.session.commit()
        gap = db.session.execute(sa.select(sa.func.max(AuditEntry.id))).scalar()
        db.session.remove()
    email_consent(client, api_key, "cy@example.com", "Cy's letter")
    seal_all(runner, site_key)
    with app.app_context():  # the gap's row becomes this site's, with a hash by the rules, back-dated
        entry = db.session.get(AuditEntry, gap)
        entry.site_id, entry.created_at = sid, utcnow().replace(year=2020)
        entry.entry_hash = audit.entry_hash(audit.entry_fields(entry))
        db.session.commit()
        db.session.remove()
    code, found = chain_problems(runner, site_key, "audit")
    assert code == 1 and ("inserted", gap) in found, found


def site_id_of(app, site_key):
    with app.app_context():
        sid = site_id(site_key)
        db.session.remove()
        return sid
