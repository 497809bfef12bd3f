"""Fixtures for identities, email consent and webhooks."""
import pytest

from tests.marketing.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def site_ctx(app, site):
    """(site_key, api_key, auth headers, site snapshot getter)."""
    site_key, api_key = site
    return site_key, api_key, {"Authorization": f"Bearer {api_key}"}


def snapshot(app, site_key):
    from app.services.sites import site_snapshot

    return site_snapshot(site_key, 0)
