"""Group commit on PostgreSQL: decisions written together keep every rule of one written alone."""
import json
import os
import urllib.request

import psycopg
import pytest
import sqlalchemy as sa

from app.extensions import db, ledger
from app.ledger import rules, seals, verify
from app.models import ConsentRecord
from app.services.sites.snapshot import site_snapshot
from tests.conftest import IPS, from_ip, make_consent, run_together
from tests.ledger.conftest import make_draft

pytestmark = pytest.mark.skipif("postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
                                reason="group commit is PostgreSQL's (run with TEST_DATABASE_URL)")

ORIGIN = "https://shop.example"


def records(site_id):
    return db.session.execute(sa.select(ConsentRecord).where(ConsentRecord.site_id == site_id)
                              .order_by(ConsentRecord.id)).scalars().all()


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
        group = ledger.state.writes
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
        assert verify.verify_site(snap.id)["ok"]


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
        got = ledger.state.repository.latest_each(keys)
        assert [r and r.record_id for r in got] == [
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
        group = ledger.state.lookups
        before = (group.batches, group.items)
    run_together(ask, 60)
    expect = [(200, written[(a_key, "v-look-0001")], "granted"), (200, None, "no_record_opt_in"),
              (200, written[(b_key, "v-look-0001")], "granted")]
    assert [answers[i] for i in range(60)] == [expect[i % 3] for i in range(60)]
    assert group.items - before[1] == 60


def test_a_webhook_sites_records_carry_their_outbox_rows_in_the_same_statement(app, client, site):
    from app.models import WebhookDelivery, WebhookEvent
    from app.services.webhooks.endpoints import create_endpoint

    site_key, _ = site
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        ep1 = create_endpoint(snap.id, "https://one.example/hook", ["consent.recorded", "consent.withdrawn"])[0].id
        ep2 = create_endpoint(snap.id, "https://two.example/hook", ["consent.withdrawn"])[0].id
        group = ledger.state.writes
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
            assert event.data == expected  # the shape receivers have always had, to the letter
            assert event.created_at == row.created_at and event.event_id.startswith("msg_")
        deliveries = db.session.execute(sa.select(WebhookDelivery.event_id, WebhookDelivery.endpoint_id,
                                                  WebhookDelivery.status)).all()
        assert sorted(deliveries) == sorted([(events[0].id, ep1, "pending"), (events[1].id, ep1, "pending"),
                                             (events[1].id, ep2, "pending")])


def test_a_record_postgresql_refuses_fails_only_its_own_write(app, site):
    """A batch PostgreSQL refuses leaves nothing written, and each of its drafts is then written
    alone: the others land, the refused one raises in its own caller."""
    with app.app_context():
        snap = site_snapshot(site[0], 0)
        good, bad = make_draft(snap), make_draft(snap, country="DEU")  # longer than the column allows
        chained = [make_draft(snap, visitor_id="v-refused-01"), make_draft(snap, visitor_id="v-refused-01"),
                   make_draft(snap, visitor_id="v-refused-01", region="x" * 9)]  # in three statements
        repository = ledger.state.repository
        assert repository.write_together([good, bad]) == [None, None]
        assert repository.write_together(chained) == [None, None, None]
        assert records(snap.id) == []
        assert ledger.write(good).created and ledger.write(chained[0]).created
        with pytest.raises(psycopg.DataError):
            ledger.write(bad)
        assert [r.record_id for r in records(snap.id)] == [good.record_id, chained[0].record_id]


def test_a_draft_that_cannot_even_be_hashed_fails_only_its_own_write(app, site):
    """One poisoned draft (a lone surrogate, which the input gate now refuses, fails the record hash
    in Python, before PostgreSQL sees anything) among good ones written together: the others land."""
    import dataclasses

    with app.app_context():
        snap = site_snapshot(site[0], 0)
        drafts = [make_draft(snap) for _ in range(6)]
        drafts[2] = dataclasses.replace(drafts[2], page_url="https://shop.example/\ud800")
        assert ledger.state.repository.write_together(drafts) == [None] * 6  # the batch: nothing written
    outcomes = {}

    def write(i):
        with app.app_context():
            try:
                outcomes[i] = ledger.write(drafts[i]).created
            except Exception as e:  # noqa: BLE001 (the poisoned one's own error)
                outcomes[i] = type(e).__name__

    run_together(write, len(drafts))
    assert outcomes.pop(2) == "UnicodeEncodeError"
    assert outcomes == {i: True for i in (0, 1, 3, 4, 5)}
    with app.app_context():
        assert len(records(snap.id)) == 5


def test_a_lookup_no_statement_takes_fails_only_its_own_check(app, client, site):
    """Lookups asked together share one statement; one that PostgreSQL refuses (a NUL, which the
    input gate now refuses before) is asked again alone, and only its caller gets the error."""
    site_key, api_key = site
    visitor = "v-lookup-ok-01"
    assert client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=visitor),
                       headers=from_ip(IPS["DE"])).status_code == 201
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        answers = ledger.state.repository.latest_each([(snap.id, visitor), (snap.id, "v-\x00-bad-id"), (snap.id, visitor)])
    assert answers[0].visitor_id == visitor and answers[2].visitor_id == visitor
    assert isinstance(answers[1], Exception)
