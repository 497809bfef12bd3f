"""The repository contract (app/ledger/records.py), held by every repository on every database:
the portable one on SQLite and PostgreSQL, the PostgreSQL one on PostgreSQL."""
import datetime as dt
import threading
import uuid

import sqlalchemy as sa

from app.errors import Forbidden
from app.extensions import db
from app.ledger import rules, seals, verify
from app.ledger.records import LATEST_COLUMNS, LatestRecord
from app.models import ConsentRecord, WebhookDelivery, WebhookEvent
from app.services.webhooks.endpoints import create_endpoint
from tests.conftest import run_together
from tests.ledger.conftest import make_draft

REJECT = {"necessary": True, "analytics": False, "marketing": False, "preferences": False}


def stored_rows(site_id):
    """{record_id: the row's columns} of a site, read with SQLAlchemy apart from any repository
    (erased_at, no part of a Record, is None on every record a repository writes)."""
    rows = db.session.execute(sa.select(ConsentRecord.__table__).where(ConsentRecord.site_id == site_id)
                              .order_by(ConsentRecord.id)).mappings().all()
    assert all(row["erased_at"] is None for row in rows)
    return {row["record_id"]: {k: v for k, v in row.items() if k not in ("id", "erased_at")} for row in rows}


def test_a_record_is_written_whole_and_read_back_as_written(repository, snap):
    draft = make_draft(snap, visitor_id="v-contract-01")
    [written] = repository.write([draft])
    record = written.record
    assert written.created and record.event == "given" and record.prev_record_id is None
    assert {k: getattr(record, k) for k in ("record_id", "visitor_id", "decisions", "regime", "geoip_build", "gpc")} == {
        k: getattr(draft, k) for k in ("record_id", "visitor_id", "decisions", "regime", "geoip_build", "gpc")}
    assert record.created_at.utcoffset() == dt.timedelta(0) and record.expires_at == record.created_at + draft.validity
    assert record.record_hash == rules.record_hash(record.columns())
    # the current form: the personal fields committed through a digest under a fresh salt of the record's own
    assert len(record.personal_salt) == 2 * rules.SALT_BYTES
    assert record.personal_digest == rules.personal_digest(record.personal_salt, record.columns())
    assert rules.base_hash(record.columns()) == rules.base_hash(
        {**record.columns(), **dict.fromkeys(rules.PERSONAL_COLUMNS, "anything")})
    [other] = repository.write([make_draft(snap, visitor_id="v-contract-01")])
    assert other.record.personal_salt != record.personal_salt
    stored_rows(snap.id).pop(other.record.record_id)
    db.session.execute(sa.delete(ConsentRecord).where(ConsentRecord.record_id == other.record.record_id))
    db.session.commit()
    assert stored_rows(snap.id) == {record.record_id: record.columns()}  # every column, as the table holds it
    assert repository.find(snap.id, draft.client_record_id) == record
    latest = repository.latest(snap.id, "v-contract-01")
    assert latest == LatestRecord(*[getattr(record, k) for k in LATEST_COLUMNS])
    assert latest.created_at.utcoffset() == dt.timedelta(0)
    assert repository.latest_many(snap.id, ["v-contract-01", "v-contract-01", "v-nobody-01"]) == {"v-contract-01": latest}


def test_what_was_never_written_is_not_found(repository, snap):
    assert repository.find(snap.id, str(uuid.uuid4())) is None
    assert repository.latest(snap.id, "v-nobody-01") is None
    assert repository.latest_many(snap.id, []) == {} and repository.latest_many(snap.id, ["v-nobody-01"]) == {}


def test_each_record_chains_to_its_visitors_latest_even_within_one_batch(repository, snap):
    [stored] = repository.write([make_draft(snap, visitor_id="v-stored-01", method="accept_all")])
    out = repository.write([
        make_draft(snap, visitor_id="v-new-0001", method="accept_all"),
        make_draft(snap, visitor_id="v-stored-01", method="reject_all", decisions=REJECT),
        make_draft(snap, visitor_id="v-new-0001", method="reject_all", decisions=REJECT),  # after the first of the batch
        make_draft(snap, visitor_id="v-new-0002", method="reject_all", decisions=REJECT),
    ])
    assert all(w.created for w in out)
    assert [(w.record.event, w.record.prev_record_id) for w in out] == [
        ("given", None), ("withdrawn", stored.record.record_id), ("withdrawn", out[0].record.record_id),
        ("refused", None)]
    rows = stored_rows(snap.id)
    assert all(rows[w.record.record_id] == w.record.columns() for w in out)
    assert repository.latest_many(snap.id, ["v-new-0001", "v-stored-01"]) == {
        "v-new-0001": repository.latest(snap.id, "v-new-0001"), "v-stored-01": repository.latest(snap.id, "v-stored-01")}
    assert repository.latest(snap.id, "v-new-0001").record_id == out[2].record.record_id
    assert seals.seal_site(snap.id, lag_seconds=0) == 5 and verify.verify_site(snap.id)["ok"]


def test_a_taken_client_record_id_writes_nothing_and_answers_with_the_first_record(repository, snap):
    [first] = repository.write([make_draft(snap, visitor_id="v-repeat-01")])
    repeat = make_draft(snap, visitor_id="v-repeat-01", client_record_id=first.record.client_record_id,
                        method="reject_all", decisions=REJECT)
    twice = make_draft(snap, visitor_id="v-twice-001")
    elsewhere = make_draft(snap, visitor_id="v-other-001", client_record_id=twice.client_record_id)
    out = repository.write([repeat, make_draft(snap, visitor_id="v-new-0001"), twice,
                            make_draft(snap, visitor_id="v-twice-001", client_record_id=twice.client_record_id),
                            elsewhere])  # the same id once more, for another visitor in the same statement
    assert [w.created for w in out] == [False, True, True, False, False]
    assert out[0].record == first.record and out[3].record == out[4].record == out[2].record
    assert len(stored_rows(snap.id)) == 3
    assert verify.verify_site(snap.id)["ok"]


def test_writers_racing_with_one_client_record_id_make_one_record(repository, snap, app):
    client_id = str(uuid.uuid4())
    outcomes, lock = [], threading.Lock()

    def write(i):
        with app.app_context():  # each thread is a request of its own
            [w] = repository.write([make_draft(snap, visitor_id=f"v-race-{i:04d}", client_record_id=client_id)])
        with lock:
            outcomes.append(w)

    run_together(write, 8)
    assert sorted(w.created for w in outcomes) == [False] * 7 + [True]
    assert all(w.record == outcomes[0].record for w in outcomes) and len(stored_rows(snap.id)) == 1


def test_a_webhook_sites_records_are_written_with_their_outbox_events(repository, snap):
    both = create_endpoint(snap.id, "https://one.example/hook", ["consent.recorded", "consent.withdrawn"])[0].id
    withdrawn = create_endpoint(snap.id, "https://two.example/hook", ["consent.withdrawn"])[0].id
    drafts = [make_draft(snap, visitor_id="v-hooked-01", method="accept_all"),
              make_draft(snap, visitor_id="v-hooked-01", method="reject_all", decisions=REJECT)]
    out = repository.write(drafts)
    events = db.session.execute(sa.select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()
    expected = [rules.outbox_event(d, w.record.event, w.record.created_at) for d, w in zip(drafts, out)]
    assert [(e.type, e.data) for e in events] == expected
    assert [e.type for e in events] == ["consent.recorded", "consent.withdrawn"]
    assert all(e.event_id.startswith("msg_") and e.created_at == w.record.created_at for e, w in zip(events, out))
    deliveries = db.session.execute(sa.select(WebhookDelivery.event_id, WebhookDelivery.endpoint_id, WebhookDelivery.status,
                                              WebhookDelivery.attempts, WebhookDelivery.next_attempt_at)).all()
    assert sorted(deliveries) == sorted([
        (events[0].id, both, "pending", 0, events[0].created_at), (events[1].id, both, "pending", 0, events[1].created_at),
        (events[1].id, withdrawn, "pending", 0, events[1].created_at)])
    assert repository.write([drafts[1]])[0].created is False
    assert len(db.session.execute(sa.select(WebhookEvent.id)).all()) == 2  # a repeat sends nothing


H1, H2 = rules.secret_hash("a" * 32), rules.secret_hash("b" * 32)
# (case, the secret hash of the visitor's latest record or no record, the draft's, whether it may write)
SECRET_CASES = [
    ("a new visitor binds its secret", "no record", H1, True),
    ("the bound secret again", H1, H1, True),
    ("another secret", H1, H2, False),
    ("no secret for a bound visitor", H1, None, False),
    ("a visitor from before secrets is bound by its next write", None, H1, True),
    ("no secret for a visitor from before secrets", None, None, True),
]


def test_a_write_must_carry_the_secret_its_visitor_is_bound_to(repository, snap):
    """rules.check_visitor_secret, in every case, for one draft at a time and for a batch (on
    PostgreSQL the statement applies it: this holds the SQL to the rule)."""
    for together in (False, True):
        drafts, expected = [], []
        for i, (case, bound, given, allowed) in enumerate(SECRET_CASES):
            visitor = f"v-secret-{together:d}-{i:02d}"
            if bound != "no record":
                [first] = repository.write([make_draft(snap, visitor_id=visitor, secret_hash=bound)])
                assert first.created, case
            drafts.append(make_draft(snap, visitor_id=visitor, method="reject_all", decisions=REJECT, secret_hash=given))
            expected.append(allowed)
        out = repository.write(drafts) if together else [w for d in drafts for w in repository.write([d])]
        for (case, bound, given, allowed), draft, w in zip(SECRET_CASES, drafts, out):
            try:
                rules.check_visitor_secret(None if bound == "no record" else bound, given)
                rule_allows = True
            except Forbidden:
                rule_allows = False
            assert rule_allows == allowed, case
            if allowed:
                assert w.created and w.record.secret_hash == (given or (None if bound == "no record" else bound)), case
                assert repository.latest(snap.id, draft.visitor_id).secret_hash == w.record.secret_hash, case
            else:
                assert isinstance(w, Forbidden) and w.message == rules.VISITOR_MISMATCH, case
                assert repository.find(snap.id, draft.client_record_id) is None, case
                assert repository.latest(snap.id, draft.visitor_id).secret_hash == bound, case


def test_within_one_batch_the_first_write_of_a_new_visitor_binds_it(repository, snap):
    first = make_draft(snap, visitor_id="v-secret-batch", secret_hash=H1)
    forged = make_draft(snap, visitor_id="v-secret-batch", method="reject_all", decisions=REJECT, secret_hash=H2)
    again = make_draft(snap, visitor_id="v-secret-batch", method="reject_all", decisions=REJECT, secret_hash=H1)
    out = repository.write([first, forged, again])
    assert out[0].created and isinstance(out[1], Forbidden) and out[2].created
    assert out[2].record.prev_record_id == out[0].record.record_id
    assert list(stored_rows(snap.id)) == [out[0].record.record_id, out[2].record.record_id]


def test_a_repeated_client_record_id_answers_only_the_browser_that_wrote_it(repository, snap):
    [w] = repository.write([make_draft(snap, visitor_id="v-secret-rep", secret_hash=H1)])
    cid = w.record.client_record_id
    [again] = repository.write([make_draft(snap, visitor_id="v-secret-rep", secret_hash=H1, client_record_id=cid)])
    assert not again.created and again.record == w.record
    [forged] = repository.write([make_draft(snap, visitor_id="v-secret-rep", secret_hash=H2, client_record_id=cid)])
    assert isinstance(forged, Forbidden)
