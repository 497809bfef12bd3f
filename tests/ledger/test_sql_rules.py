"""The PostgreSQL statement restates three rules; over every case, it must agree with app/ledger/rules.py:
which event a record is (picked in SQL from the rules' choices, by what the previous record
granted), the chained hash (finished in SQL from the base hash), and the outbox event (picked
in SQL by that event)."""
import pytest
import sqlalchemy as sa

from app.extensions import db, ledger
from app.ledger import rules
from app.models import ConsentRecord, WebhookDelivery, WebhookEvent
from app.services.webhooks.endpoints import create_endpoint
from tests.ledger.conftest import POSTGRES, make_draft

pytestmark = pytest.mark.skipif(not POSTGRES, reason="the statement is PostgreSQL's (run with TEST_DATABASE_URL)")

NONE = {"necessary": True, "analytics": False, "marketing": False, "preferences": False}
ANALYTICS = dict(NONE, analytics=True)
MARKETING = dict(NONE, marketing=True)

# (case, the visitor's previous decisions or None, method, decisions, the event the rules give)
CASES = [
    ("first decision, granted", None, "custom", ANALYTICS, "given"),
    ("first decision, everything granted", None, "accept_all", dict.fromkeys(NONE, True), "given"),
    ("first decision, refused", None, "reject_all", NONE, "refused"),
    ("first decision, necessary only", None, "custom", {"necessary": True}, "refused"),
    ("first decision, GPC", None, "gpc", NONE, "gpc_optout"),
    ("a grant changed for another", ANALYTICS, "custom", MARKETING, "updated"),
    ("a grant taken back", ANALYTICS, "reject_all", NONE, "withdrawn"),
    ("a grant taken back by dismissing", ANALYTICS, "dismiss", NONE, "withdrawn"),
    ("a refusal repeated", NONE, "reject_all", NONE, "updated"),
    ("a refusal turned into a grant", NONE, "custom", ANALYTICS, "updated"),
    ("a refusal after necessary only", {"necessary": True}, "reject_all", NONE, "updated"),
    ("GPC after a grant", ANALYTICS, "gpc", NONE, "gpc_optout"),
    ("GPC after GPC", NONE, "gpc", NONE, "gpc_optout"),
    ("a refusal after granting a purpose the site has since dropped", {"necessary": True, "newsletter": True},
     "reject_all", NONE, "withdrawn"),
    ("a refusal after a record with no decisions at all", {}, "reject_all", NONE, "updated"),
]
# which webhook events the site has endpoints for
SUBSCRIPTIONS = {"none": [], "all": ["consent.recorded", "consent.withdrawn"], "withdrawals": ["consent.withdrawn"]}


@pytest.mark.parametrize("subscribed", SUBSCRIPTIONS)
@pytest.mark.parametrize("together", [False, True], ids=["one statement each", "one statement for all"])
def test_the_statement_agrees_with_the_rules_in_every_case(snap, subscribed, together):
    endpoint = (create_endpoint(snap.id, "https://hooks.example/c", SUBSCRIPTIONS[subscribed])[0].id
                if SUBSCRIPTIONS[subscribed] else None)
    repository = ledger.state.repository
    previous = {i: make_draft(snap, visitor_id=f"v-case-{i:04d}", method="custom", decisions=case[1])
                for i, case in enumerate(CASES) if case[1] is not None}
    # every other draft names a widget build: a record hashes it only when it has one
    drafts = [make_draft(snap, visitor_id=f"v-case-{i:04d}", method=method, decisions=decisions,
                         widget_build="ab" * 32 if i % 2 else None)
              for i, (_, _, method, decisions, _) in enumerate(CASES)]

    def write(batch):
        return repository.write(batch) if together else [w for d in batch for w in repository.write([d])]

    before = dict(zip(previous, write(list(previous.values()))))
    written = write(drafts)

    rows = {r.record_id: r for r in db.session.execute(sa.select(ConsentRecord)).scalars()}
    outbox = {e.data["record_id"]: e for e in db.session.execute(sa.select(WebhookEvent)).scalars()}
    deliveries = {e: ep for e, ep in db.session.execute(sa.select(WebhookDelivery.event_id, WebhookDelivery.endpoint_id))}
    for i, ((case, prev, method, decisions, event), draft, w) in enumerate(zip(CASES, drafts, written)):
        row = rows[w.record.record_id]
        prev_id = before[i].record.record_id if i in before else None
        assert row.event == event == rules.classify_event(method, decisions, prev, draft.necessary), case
        assert row.prev_record_id == prev_id, case
        columns = {c: getattr(row, c) for c in rules.HASHED_COLUMNS}
        assert row.record_hash == rules.chain_hash(rules.base_hash(columns), prev_id, event) == rules.record_hash(
            columns), case
        assert w.record.columns() == {**columns, "secret_hash": row.secret_hash, "record_hash": row.record_hash}, case
        kind, data = rules.outbox_event(draft, event, w.record.created_at)
        if kind in SUBSCRIPTIONS[subscribed]:
            sent = outbox[row.record_id]
            assert (sent.type, sent.data, sent.created_at) == (kind, data, row.created_at), case
            assert deliveries[sent.id] == endpoint, case
        else:
            assert row.record_id not in outbox, case
    for i, w in before.items():  # the first decisions of the visitors, too
        assert rows[w.record.record_id].event == rules.classify_event("custom", CASES[i][1], None, drafts[i].necessary)
