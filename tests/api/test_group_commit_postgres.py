"""Group commit on PostgreSQL: decisions written together keep every rule of one written alone."""
import functools
import json
import os
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.ledger import rules
from app.models import ConsentRecord
from app.ledger import seals
from app.services import consent
from app.services.sites import site_snapshot
from tests.conftest import IPS, from_ip, make_consent, run_together

pytestmark = pytest.mark.skipif("postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
                                reason="group commit is PostgreSQL's (run with TEST_DATABASE_URL)")

ORIGIN = "https://shop.example"


def make_draft(snap, site_key, ip=IPS["DE"], **body):
    """A draft record for a widget body, as the write path makes one before the ledger is read."""
    return consent.draft_record(snap, make_consent(site_key, **body), ip, "ua", False, "browser")


def stored_decision(client, site_key, visitor_id):
    """A decision recorded through the API: (the body sent, the answer)."""
    body = make_consent(site_key, visitor_id=visitor_id, method="accept_all")
    return body, client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"], Origin=ORIGIN)).json


def records(site_id):
    return db.session.execute(sa.select(ConsentRecord).where(ConsentRecord.site_id == site_id)
                              .order_by(ConsentRecord.id)).scalars().all()


def test_a_batch_chains_each_visitor_and_leaves_repeats_to_be_answered_alone(app, client, site):
    site_key, _ = site
    stored, first = stored_decision(client, site_key, "v-stored-01")
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        draft = functools.partial(make_draft, snap, site_key)

        twice = str(uuid.uuid4())
        drafts = [
            draft(visitor_id="v-new-0001", method="accept_all"),
            draft(visitor_id="v-stored-01", method="reject_all"),        # after the stored record
            draft(visitor_id="v-new-0001", method="reject_all"),         # after the first of this batch
            draft(visitor_id="v-stored-01", client_record_id=stored["client_record_id"]),  # a repeat
            draft(visitor_id="v-twice-01", client_record_id=twice),
            draft(visitor_id="v-twice-01", client_record_id=twice),      # the same request twice at once
        ]
        out = consent.with_autocommit(lambda conn: consent._write_drafts(conn, drafts))
        assert [v is None for v in out] == [False, False, False, True, False, True]
        assert out[0]["event"] == "given" and out[0]["prev_record_id"] is None
        assert out[1]["event"] == "withdrawn" and out[1]["prev_record_id"] == first["record_id"]
        assert out[2]["event"] == "withdrawn" and out[2]["prev_record_id"] == out[0]["record_id"]
        rows = records(snap.id)  # the first statement holds one draft per visitor, the second the rest
        assert [r.record_id for r in rows] == [first["record_id"]] + [out[i]["record_id"] for i in (0, 1, 4, 2)]
        for row, values in zip(rows[1:], [out[i] for i in (0, 1, 4, 2)]):
            assert row.record_hash == values["record_hash"] == rules.record_hash(
                {c: getattr(row, c) for c in rules.HASHED_COLUMNS})
        assert seals.seal_site(snap.id, lag_seconds=0) == 5
        assert seals.verify_site(snap.id)["ok"]
    # the repeats, answered on their own through the API, are the records already written
    again = client.post("/api/v1/consents", json={**make_consent(site_key, visitor_id="v-twice-01"),
                                                   "client_record_id": twice},
                        headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert again.status_code == 200 and again.json["record_id"] == out[4]["record_id"]


class Racing:
    """A connection on which another process writes `draft`'s client_record_id just before `statement`."""

    def __init__(self, conn, statement, draft):
        self.conn, self.statement, self.draft = conn, statement, draft

    def execute(self, query, params=None):
        if query is self.statement:
            consent._insert(self.conn, consent.finish_record(self.draft, None, consent.utcnow()))
        return self.conn.execute(query, params)


def test_a_race_lost_in_a_batch_leaves_only_that_draft_to_be_answered_alone(app, site):
    site_key, _ = site
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        drafts = [make_draft(snap, site_key, ip=IPS["FR"]) for _ in range(3)]  # three visitors: one statement
        out = consent.with_autocommit(
            lambda conn: consent._write_drafts(Racing(conn, consent._PG_INSERT_CHAINED, drafts[1]), drafts))
        assert [v is None for v in out] == [False, True, False]
        assert len(records(snap.id)) == 3  # two of the batch and the racer's
        assert seals.verify_site(snap.id)["ok"]


def test_concurrent_writes_through_http_batch_up_and_keep_each_visitors_chain(app, live_server, site):
    site_key, api_key = site
    visitors = [f"v-conc-{i:04d}" for i in range(6)]
    statuses = []

    def post(i):
        for j in range(12):
            body = make_consent(site_key, visitor_id=visitors[(i + j) % len(visitors)],
                                method="accept_all" if (i + j) % 2 else "reject_all")
            req = urllib.request.Request(f"{live_server}/api/v1/consents", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "text/plain", "Origin": ORIGIN,
                                                  "X-Forwarded-For": IPS["US-CA"]})
            with urllib.request.urlopen(req, timeout=30) as r:
                statuses.append(r.status)

    with app.app_context():
        group = consent._group()
        before = (group.batches, group.items)
    run_together(post, 16)
    assert statuses == [201] * (16 * 12)
    with app.app_context():
        batches, items = group.batches - before[0], group.items - before[1]
        assert items == 16 * 12 and batches < items  # some decisions were written together
        snap = site_snapshot(site_key, 0)
        rows = records(snap.id)
        assert len(rows) == 16 * 12
        last = {}
        for row in rows:  # each record points at the one before it for its visitor, in id order
            assert row.prev_record_id == last.get(row.visitor_id)
            last[row.visitor_id] = row.record_id
        seals.seal_site(snap.id, lag_seconds=0)
        assert seals.verify_site(snap.id)["ok"]


def test_the_one_statement_write_classifies_and_hashes_as_the_python_rules_do(app, client, site):
    site_key, _ = site
    import random

    rnd = random.Random(11)
    for i in range(60):
        method = rnd.choice(["accept_all", "reject_all", "custom", "custom", "dismiss", "gpc"])
        body = make_consent(site_key, visitor_id=f"v-rules-{i % 5:03d}", method=method,
                            decisions={"analytics": rnd.random() < 0.5, "marketing": rnd.random() < 0.5})
        r = client.post("/api/v1/consents", json=body, headers=from_ip(rnd.choice([IPS["DE"], IPS["US-CA"], IPS["JP"]]),
                                                                      Origin=ORIGIN))
        assert r.status_code == 201, r.json
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        necessary = {p["slug"] for p in snap.purposes if p["legal_basis"] == "necessary"}
        last = {}
        events = set()
        for row in records(snap.id):
            cols = {c: getattr(row, c) for c in rules.HASHED_COLUMNS}
            previous = last.get(row.visitor_id)
            assert row.prev_record_id == (previous["record_id"] if previous else None)
            assert row.event == rules.classify_event(row.method, row.decisions, previous and previous["decisions"], necessary)
            assert row.record_hash == rules.record_hash(cols)
            last[row.visitor_id] = {"record_id": row.record_id, "decisions": row.decisions}
            events.add(row.event)
        assert events >= {"given", "refused", "updated", "withdrawn", "gpc_optout"}


def test_lookups_asked_together_share_one_query_and_each_gets_its_own_answer(app, client, make_site):
    from app.services import checks

    (a_key, a_api), (b_key, b_api) = make_site("A"), make_site("B")
    written = {}
    for key, vid in [(a_key, "v-look-0001"), (a_key, "v-look-0002"), (b_key, "v-look-0001")]:
        r = client.post("/api/v1/consents", json=make_consent(key, visitor_id=vid, method="accept_all"),
                        headers=from_ip(IPS["DE"], Origin=ORIGIN))
        written[(key, vid)] = r.json["record_id"]
    with app.app_context():
        a, b = site_snapshot(a_key, 0), site_snapshot(b_key, 0)
        keys = [(a.id, "v-look-0001"), (b.id, "v-look-0002"), (b.id, "v-look-0001"), (a.id, "v-look-0002"),
                (a.id, "v-look-0001")]
        got = checks._read_latest(keys)
        assert [r and r["record_id"] for r in got] == [
            written[(a_key, "v-look-0001")], None, written[(b_key, "v-look-0001")],
            written[(a_key, "v-look-0002")], written[(a_key, "v-look-0001")]]

    answers = {}

    def ask(i):
        api, vid = [(a_api, "v-look-0001"), (b_api, "v-look-0002"), (b_api, "v-look-0001")][i % 3]
        r = client.post("/api/v1/consent-checks", json={"visitor_id": vid, "purpose": "analytics"},
                        headers={"Authorization": f"Bearer {api}"})
        answers[i] = (r.status_code, r.json["record_id"], r.json["reason"])

    ask(0)
    with app.app_context():
        group = checks._read_groups[db.engine]
        before = (group.batches, group.items)
    run_together(ask, 60)
    expect = [(200, written[(a_key, "v-look-0001")], "granted"), (200, None, "no_record_opt_in"),
              (200, written[(b_key, "v-look-0001")], "granted")]
    assert [answers[i] for i in range(60)] == [expect[i % 3] for i in range(60)]
    assert group.items - before[1] == 60


def test_the_one_statement_batch_chains_to_stored_records_and_skips_taken_ids(app, client, site):
    site_key, _ = site
    stored, first = stored_decision(client, site_key, "v-kept-0001")
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        draft = functools.partial(make_draft, snap, site_key)

        drafts = [draft(visitor_id="v-kept-0002", method="accept_all"),
                  draft(visitor_id="v-kept-0001", method="reject_all"),
                  draft(visitor_id="v-kept-0003", client_record_id=stored["client_record_id"])]
        out = consent.with_autocommit(lambda conn: consent._write_drafts(conn, drafts))
        assert out[0]["event"] == "given" and out[0]["prev_record_id"] is None
        assert out[1]["event"] == "withdrawn" and out[1]["prev_record_id"] == first["record_id"]
        assert out[2] is None
        rows = records(snap.id)
        assert [r.record_id for r in rows] == [first["record_id"], out[0]["record_id"], out[1]["record_id"]]
        assert all(r.record_hash == rules.record_hash({c: getattr(r, c) for c in rules.HASHED_COLUMNS}) for r in rows)


def test_a_webhook_sites_records_carry_their_outbox_rows_in_the_same_statement(app, client, site):
    from app.models import WebhookDelivery, WebhookEvent
    from app.services import webhooks

    site_key, _ = site
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        ep1 = webhooks.create_endpoint(snap.id, "https://one.example/hook", ["consent.recorded", "consent.withdrawn"])[0].id
        ep2 = webhooks.create_endpoint(snap.id, "https://two.example/hook", ["consent.withdrawn"])[0].id
        group = consent._group()
        before = group.items
    r1 = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id="v-hooked-01", method="accept_all"),
                     headers=from_ip(IPS["DE"], Origin=ORIGIN))
    r2 = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id="v-hooked-01", method="reject_all"),
                     headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert (r1.status_code, r2.status_code, r2.json["event"]) == (201, 201, "withdrawn")
    with app.app_context():
        assert group.items - before == 2  # both went through the group commit
        events = db.session.execute(sa.select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()
        assert [e.type for e in events] == ["consent.recorded", "consent.withdrawn"]
        for event, rid in zip(events, (r1.json["record_id"], r2.json["record_id"])):
            row = db.session.execute(sa.select(ConsentRecord).where(ConsentRecord.record_id == rid)).scalar_one()
            values = {c: getattr(row, c) for c in rules.HASHED_COLUMNS}
            expected = {k: values[k] for k in ("record_id", "visitor_id", "event", "method", "decisions", "regime",
                                               "country", "region", "gpc", "policy_version", "source")}
            expected["created_at"] = values["created_at"].isoformat()
            assert event.data == expected  # webhooks.enqueue_consent_record's shape, to the letter
            assert event.created_at == row.created_at and event.event_id.startswith("msg_")
        deliveries = db.session.execute(sa.select(WebhookDelivery.event_id, WebhookDelivery.endpoint_id,
                                                  WebhookDelivery.status)).all()
        assert sorted(deliveries) == sorted([(events[0].id, ep1, "pending"), (events[1].id, ep1, "pending"),
                                             (events[1].id, ep2, "pending")])
