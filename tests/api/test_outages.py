"""While the database is out of reach, writes and checks answer 503 with Retry-After (nothing was
stored, try again), never a 500; /readyz says so, while /healthz stays a liveness check."""
import pytest

from app import create_app
from tests.conftest import make_consent

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # a refused connection, at once


@pytest.fixture(scope="module")
def down():
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": UNREACHABLE, "SITE_CACHE_SECONDS": 0,
                       "CACHE_CHANNEL": "", "LEDGER_SEAL_INTERVAL": 0})


@pytest.mark.parametrize("hot", [True, False])
def test_writes_and_checks_answer_503_with_retry_after(down, hot):
    down.config["HOT_PATHS"] = hot
    client = down.test_client()
    answers = [client.post("/api/v1/consents", json=make_consent("some-site-key")),
               client.post("/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": "analytics"},
                           headers={"Authorization": "Bearer opsiq_sk_12345678abcdefgh"})]
    for r in answers:
        assert r.status_code == 503 and r.headers["Retry-After"] == "2", r.get_data(as_text=True)
        assert r.json["code"] == 503 and "Retry" in r.json["message"]


def test_readyz_follows_the_database_and_healthz_does_not(down, client):
    r = down.test_client().get("/readyz")
    assert r.status_code == 503 and r.json["database"] == "unreachable"
    assert down.test_client().get("/healthz").status_code == 200
    assert client.get("/readyz").json == {"database": "ok"}
