"""A ledger that survives lawful deletion (erasure, purges) and resists database-only tampering
(keyed seals, anchors), through the ledger's functions and `flask ledger` on the test database."""
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from app.errors import Conflict
from app.extensions import db
from app.hashing import canonical_json, sha256_hex
from app.ledger import rules
from app.ledger.erasure import erase_personal
from app.ledger.purge import purge_sealed_range
from app.models import ConsentRecord, LedgerErasure, LedgerSeal, WebhookEvent
from app.services.sites.administration import require_site
from app.services.webhooks.endpoints import create_endpoint
from tests.conftest import IPS, from_ip, make_consent


def record_some(client, site_key, n=5, prefix="visitor"):
    ids = []
    for i in range(n):
        r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=f"{prefix}-{i:04d}"),
                        headers=from_ip(IPS["DE"], **{"User-Agent": "Mozilla/5.0 (Person)"}))
        assert r.status_code == 201, r.json
        ids.append(r.json["record_id"])
    return ids


def seal(runner, site_key):
    r = runner.invoke(args=["ledger", "seal", site_key, "--lag", "0"])
    assert r.exit_code == 0, r.output


def verify(runner, site_key, *extra):
    return runner.invoke(args=["ledger", "verify", site_key, *extra])


def problems(runner, site_key, *extra):
    r = verify(runner, site_key, "--json", *extra)
    return r.exit_code, {(p["kind"], p.get("record_id", p.get("seq", p.get("row")))) for p in
                         json.loads(r.output)[site_key]["problems"]}


def row(record_id):
    return db.session.execute(sa.select(ConsentRecord).where(ConsentRecord.record_id == record_id)).scalar_one()


def site_id(site_key):
    return require_site(site_key).id


def erase(app, site_key, record_ids, reason="request-1"):
    with app.app_context():
        entry = erase_personal(site_id(site_key), [row(r).id for r in record_ids], reason)
        db.session.commit()
        return entry.id if entry else None


def test_erased_records_keep_no_personal_data_and_still_verify(app, client, runner, site):
    ids = record_some(client, site[0])
    seal(runner, site[0])
    later = record_some(client, site[0], 2, prefix="later")  # erasure reaches unsealed records too
    with app.app_context():
        before = {r: (row(r).record_hash, row(r).personal_digest) for r in ids + later}
    erase(app, site[0], [ids[1], ids[3], later[0]])
    with app.app_context():
        for rid in (ids[1], ids[3], later[0]):
            rec = row(rid)
            assert rec.visitor_id == f"erased:{rid}" and rec.erased_at is not None
            assert (rec.client_record_id, rec.ip_truncated, rec.user_agent, rec.page_url, rec.personal_salt,
                    rec.secret_hash) == (None,) * 6
            assert (rec.record_hash, rec.personal_digest) == before[rid]  # what every seal holds
        dump = json.dumps([dict(r) for t in (ConsentRecord.__table__, LedgerErasure.__table__)
                           for r in db.session.execute(sa.select(t)).mappings()], default=str)
        assert "visitor-0001" not in dump and "visitor-0003" not in dump and "later-0000" not in dump
        entry = db.session.execute(sa.select(LedgerErasure)).scalar_one()
        assert (entry.record_count, entry.reason) == (3, "request-1")
    r = verify(runner, site[0])
    assert r.exit_code == 0, r.output
    assert "OK (5 sealed in 1 seal(s), 2 not yet sealed, 3 erased)" in r.output
    r = client.post("/api/v1/consent-checks", json={"visitor_id": "visitor-0001", "purpose": "analytics"},
                    headers={"Authorization": f"Bearer {site[1]}"})
    assert r.status_code == 200 and r.json["record_id"] is None  # the person's visitor id finds nothing
    assert erase(app, site[0], [ids[1]]) is None  # erasing again has nothing left to do


def test_an_edit_of_an_erased_or_a_remaining_record_is_still_caught(app, client, runner, site):
    ids = record_some(client, site[0])
    seal(runner, site[0])
    erase(app, site[0], [ids[0], ids[1]])
    with app.app_context():
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == ids[0])
                           .values(decisions={"necessary": True, "analytics": False}))  # what the erased one said
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == ids[1])
                           .values(visitor_id="someone-else-01"))  # an erased record handed to someone
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == ids[2])
                           .values(user_agent="Mozilla/5.0 (Other)"))  # a personal field of a remaining one
        db.session.commit()
    code, found = problems(runner, site[0])
    assert code == 1
    assert found == {("altered", ids[0]), ("altered", ids[1]), ("altered", ids[2])}


def test_an_erasure_no_entry_vouches_for_is_caught(app, client, runner, site):
    """Someone with database access alone "erases" a record (to hide whose it was): without an
    erasure entry carrying the ledger's MAC, verify names it; a forged entry is named too."""
    ids = record_some(client, site[0], 3)
    seal(runner, site[0])
    with app.app_context():
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == ids[1]).values(
            visitor_id=f"erased:{ids[1]}", client_record_id=None, ip_truncated=None, user_agent=None, page_url=None,
            personal_salt=None))
        db.session.commit()
    code, found = problems(runner, site[0])
    assert code == 1 and ("erased_unlisted", ids[1]) in found
    with app.app_context():
        rec = row(ids[1])
        db.session.add(LedgerErasure(site_id=rec.site_id, erased_at=rec.created_at, reason="x", record_count=1,
                                     entries=[[rec.id, rec.record_id, None]], mac="0" * 64))
        db.session.commit()
    code, found = problems(runner, site[0])
    assert code == 1 and ("erased_unlisted", ids[1]) in found and any(k == "erasure_forged" for k, _ in found)


def _rewrite_everything(app, site_key, record_id):
    """A database-only attacker: flip a record's decision, recompute its hash and every seal hash
    after it, so that every SHA-256 the ledger holds is consistent again."""
    with app.app_context():
        rec = row(record_id)
        columns = {c: getattr(rec, c) for c in rules.HASHED_COLUMNS}
        columns["decisions"] = dict(rec.decisions, marketing=True)
        new_hash = rules.record_hash(columns)
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.id == rec.id)
                           .values(decisions=columns["decisions"], record_hash=new_hash))
        prev = "0" * 64
        for s in db.session.execute(sa.select(LedgerSeal).where(LedgerSeal.site_id == rec.site_id)
                                    .order_by(LedgerSeal.seq)).scalars().all():
            entries = [[i, new_hash if i == rec.id else h] for i, h in s.entries]
            digest = rules.seal_hash(prev, s.site_id, s.seq, entries)
            db.session.execute(sa.update(LedgerSeal).where(LedgerSeal.id == s.id)
                               .values(entries=entries, prev_hash=prev, seal_hash=digest))
            prev = digest
        db.session.commit()


def test_a_database_only_rewrite_of_a_record_its_hash_and_the_seal_chain_is_caught(app, client, runner, site):
    ids = record_some(client, site[0], 3)
    seal(runner, site[0])
    record_some(client, site[0], 2, prefix="more")
    seal(runner, site[0])
    assert verify(runner, site[0]).exit_code == 0
    _rewrite_everything(app, site[0], ids[1])
    code, found = problems(runner, site[0])
    assert code == 1 and found == {("seal_forged", 1), ("seal_forged", 2)}  # every hash agrees; the MACs do not


def test_a_record_put_between_two_seals_ranges_is_caught(app, client, runner, make_site):
    """A record forged with a back date and a hash by the rules, at a row id between two of the
    site's seals (freed by another site's row here; a sequence also skips ids), lies in neither
    seal's range of ids: still, the seal after the gap answers for it."""
    (key, _), (other, _) = make_site(), make_site(name="Other")
    record_some(client, key, 1)
    seal(runner, key)
    [theirs] = record_some(client, other, 1, prefix="theirs")
    record_some(client, key, 1, prefix="second")
    seal(runner, key)
    [late] = record_some(client, key, 1, prefix="late")
    assert verify(runner, key).exit_code == 0
    with app.app_context():
        t = ConsentRecord.__table__
        freed = row(theirs).id
        forged = dict(db.session.execute(sa.select(t).where(t.c.record_id == late)).mappings().one())
        db.session.execute(sa.delete(t).where(t.c.id.in_([freed, forged["id"]])))
        for name in ("created_at", "expires_at"):
            forged[name] -= dt.timedelta(hours=1)
        forged.update(id=freed, record_hash=rules.hash_in_stored_form(forged, forged["record_hash"]))
        db.session.execute(sa.insert(t).values(**forged))
        db.session.commit()
    code, found = problems(runner, key)
    assert code == 1 and found == {("inserted", late)}


def test_anchors_catch_the_newest_seal_removed_with_its_records(app, client, runner, site, tmp_path):
    record_some(client, site[0], 3)
    seal(runner, site[0])
    newest = record_some(client, site[0], 2, prefix="newest")
    seal(runner, site[0])
    anchor = tmp_path / "anchor.json"
    r = runner.invoke(args=["ledger", "anchor", "--out", str(anchor)])
    assert r.exit_code == 0, r.output
    doc = json.loads(anchor.read_text())
    head = doc["sites"][site[0]]
    assert (head["seq"], head["record_count"]) == (2, 2) and len(head["mac"]) == 64
    assert verify(runner, site[0], "--anchor", str(anchor)).exit_code == 0
    with app.app_context():  # the newest seal and the records it holds, gone
        db.session.execute(sa.delete(LedgerSeal).where(LedgerSeal.seq == 2))
        db.session.execute(sa.delete(ConsentRecord).where(ConsentRecord.record_id.in_(newest)))
        db.session.commit()
    assert verify(runner, site[0]).exit_code == 0  # a shorter chain that holds together...
    r = verify(runner, site[0], "--anchor", str(anchor))
    assert r.exit_code == 1 and "anchor_missing: seal 2, the head the anchor names, is gone" in r.output
    head["mac"] = "0" * 64  # ...and an anchor file edited to match proves nothing
    anchor.write_text(json.dumps(doc))
    assert "anchor_forged" in verify(runner, site[0], "--anchor", str(anchor)).output


def test_anchors_catch_a_seal_whose_hash_changed(app, client, runner, site, tmp_path):
    ids = record_some(client, site[0], 3)
    seal(runner, site[0])
    anchor = tmp_path / "anchor.json"
    anchor.write_text(runner.invoke(args=["ledger", "anchor", site[0]]).output)
    _rewrite_everything(app, site[0], ids[0])
    code, found = problems(runner, site[0], "--anchor", str(anchor))
    assert code == 1 and ("anchor_mismatch", 1) in found


def test_each_seal_sends_its_head_as_a_webhook_event(app, client, runner, site):
    with app.app_context():
        create_endpoint(site_id(site[0]), "https://hooks.example/ledger", ["ledger.sealed"])
    record_some(client, site[0], 3)
    seal(runner, site[0])
    document = json.loads(runner.invoke(args=["ledger", "anchor", site[0]]).output)
    anchor = document["sites"][site[0]]
    with app.app_context():
        events = {e.data["chain"]: e.data for e in db.session.execute(
            sa.select(WebhookEvent).where(WebhookEvent.type == "ledger.sealed")).scalars()}
    # the consent records' seal, and the audit chain's (the endpoint's creation is an audited change)
    assert events == {"consent": {k: v for k, v in anchor.items() if k != "site_id"},
                      "audit": document["chains"][site[0]]["audit"]}


def test_a_purged_sealed_range_verifies_and_other_deletions_are_still_named(app, client, runner, site):
    ids = record_some(client, site[0], 6)
    seal(runner, site[0])
    with app.app_context():
        rows = {r: row(r).id for r in ids}
        keep = rows[ids[2]]  # say, a consent still in force
        with pytest.raises(Conflict):  # unsealed records cannot be purged
            purge_sealed_range(site_id(site[0]), rows[ids[0]], rows[ids[5]] + 1, "retention_days=30")
        checkpoint = purge_sealed_range(site_id(site[0]), rows[ids[0]], rows[ids[3]], "retention_days=30",
                                        keep=[keep], batch=2)
        assert checkpoint.record_count == 3
        left = set(db.session.execute(sa.select(ConsentRecord.record_id)).scalars())
    assert left == {ids[2], ids[4], ids[5]}
    r = verify(runner, site[0])
    assert r.exit_code == 0, r.output
    assert "OK (6 sealed in 1 seal(s), 0 not yet sealed, 3 purged)" in r.output
    with app.app_context():  # outside the purged range, and the one the purge kept
        db.session.execute(sa.delete(ConsentRecord).where(ConsentRecord.record_id.in_([ids[5], ids[2]])))
        db.session.commit()
    code, found = problems(runner, site[0])
    assert code == 1 and ("removed", rows[ids[5]]) in found
    assert any(k == "removed" and "purge checkpoint" in p for k, p in [
        (p["kind"], p["detail"]) for p in json.loads(verify(runner, site[0], "--json").output)[site[0]]["problems"]])


def _older_form(app, record_ids):
    """Put records and seals in the forms stored before digests and keyed seals: the record hash
    over every column (two-step form), the seal without a MAC."""
    with app.app_context():
        for rid in record_ids:
            rec = row(rid)
            columns = {c: getattr(rec, c) for c in rules.HASHED_COLUMNS}
            columns.update(personal_salt=None, personal_digest=None)
            db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.id == rec.id).values(
                personal_salt=None, personal_digest=None, record_hash=rules.record_hash(columns)))
        db.session.commit()


def test_records_and_seals_of_the_older_forms_verify_once_keyed_and_can_be_erased(app, client, runner, site):
    ids = record_some(client, site[0], 4)
    _older_form(app, ids[:3])
    with app.app_context():  # one record in the one-step legacy form
        rec = row(ids[3])
        columns = {c: getattr(rec, c) for c in rules.LEGACY_COLUMNS}
        legacy = sha256_hex(canonical_json({k: rules._plain(v) for k, v in columns.items()}))
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.id == rec.id)
                           .values(personal_salt=None, personal_digest=None, record_hash=legacy))
        db.session.commit()
    seal(runner, site[0])
    with app.app_context():
        db.session.execute(sa.update(LedgerSeal).values(mac=None))
        db.session.commit()
    code, found = problems(runner, site[0])
    assert code == 1 and found == {("unkeyed", 1)}  # an unkeyed seal proves nothing against a database writer
    r = runner.invoke(args=["ledger", "rekey", site[0]])
    assert r.exit_code == 0 and "keyed 1 seal(s)" in r.output
    assert verify(runner, site[0]).exit_code == 0
    erase(app, site[0], [ids[0], ids[3]])
    r = verify(runner, site[0])
    assert r.exit_code == 0 and "2 erased" in r.output, r.output
    with app.app_context():
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == ids[3]).values(language="fr"))
        db.session.commit()
    code, found = problems(runner, site[0])
    assert code == 1 and found == {("altered", ids[3])}


def test_rekey_refuses_a_ledger_that_does_not_verify(app, client, runner, site):
    ids = record_some(client, site[0], 2)
    seal(runner, site[0])
    with app.app_context():
        db.session.execute(sa.update(LedgerSeal).values(mac=None))
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == ids[0]).values(method="api"))
        db.session.commit()
    r = runner.invoke(args=["ledger", "rekey", site[0]])
    assert r.exit_code == 1 and "does not verify" in r.output


def test_after_a_master_key_rotation_rekey_makes_every_ledger_mac_again(app, client, runner, site):
    import base64

    from app import create_app
    from app.extensions import ledger
    from app.services.keyring import master_key, new_master_key

    with app.app_context():
        old = base64.b64encode(master_key()).decode()
    ids = record_some(client, site[0], 4)
    seal(runner, site[0])
    erase(app, site[0], [ids[0]])
    with app.app_context():
        purge_sealed_range(site_id(site[0]), row(ids[1]).id, row(ids[1]).id, "retention_days=1")
    assert verify(runner, site[0]).exit_code == 0
    rotated = create_app({**{k: v for k, v in app.config.items() if k != "SERVER_NAME"},
                          "OPSIQ_MASTER_KEY": new_master_key()})
    try:
        code, found = problems(rotated.test_cli_runner(), site[0])
        assert code == 1 and {k for k, _ in found} >= {"seal_forged", "erasure_forged", "checkpoint_forged"}
        r = rotated.test_cli_runner().invoke(args=["ledger", "rekey", site[0]], env={"OPSIQ_OLD_MASTER_KEY": old})
        assert r.exit_code == 0 and "keyed 1 seal(s)" in r.output, r.output
        r = verify(rotated.test_cli_runner(), site[0])
        assert r.exit_code == 0 and "1 erased, 1 purged" in r.output, r.output
    finally:
        with rotated.app_context():
            if ledger.state.connections is not None:
                ledger.state.connections.pool().discard_idle()
            db.engine.dispose()
    assert verify(runner, site[0]).exit_code == 1  # the old key no longer vouches for the ledger
