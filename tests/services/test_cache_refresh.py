"""Stale cache entries are re-read by one request at a time; the others keep the last answer
meanwhile, and a revocation ends it for everyone once read."""
import dataclasses
import time

from app.hashing import sha256_hex
from app.services import sites
from app.services.sites import API_KEY_PREFIX


def test_a_stale_key_is_reread_once_and_a_revocation_ends_it_for_all(app, site, runner):
    site_key, api_key = site
    with app.app_context():
        assert sites.site_key_for_api_key(api_key, 60) == site_key
        digest = sha256_hex(api_key)
        sites._key_cache[digest] = (time.monotonic() - 120, site_key)  # stale
        assert runner.invoke(args=["keys", "revoke", api_key]).exit_code == 0
        sites._key_cache[digest] = (time.monotonic() - 120, site_key)  # (revoking cleared the caches)
        sites._refreshing.add(("key", digest))  # another request is re-reading it right now
        try:
            assert sites.site_key_for_api_key(api_key, 60) == site_key  # the last answer, no herd
        finally:
            sites._refreshing.discard(("key", digest))
        assert sites.site_key_for_api_key(api_key, 60) is None  # the re-read sees the revocation
        assert digest not in sites._key_cache
        sites._refreshing.add(("key", digest))
        try:
            assert sites.site_key_for_api_key(api_key, 60) is None  # and nobody gets the stale answer after
        finally:
            sites._refreshing.discard(("key", digest))
    assert api_key.startswith(API_KEY_PREFIX)


def test_a_stale_snapshot_serves_while_one_request_rebuilds_it(app, site):
    site_key, _ = site
    with app.app_context():
        snap = sites.site_snapshot(site_key, 60)
        stale = dataclasses.replace(snap, fetched_at=time.monotonic() - 120)
        sites._cache[site_key] = stale
        sites._refreshing.add(("site", site_key))
        try:
            assert sites.site_snapshot(site_key, 60) is stale
        finally:
            sites._refreshing.discard(("site", site_key))
        fresh = sites.site_snapshot(site_key, 60)
        assert fresh is not stale and fresh.fetched_at > stale.fetched_at
        assert not sites._refreshing


def test_stale_webhook_subscriptions_are_reread_by_one_request(app, site):
    from app.services import webhooks

    site_key, _ = site
    with app.app_context():
        app.config["WEBHOOK_SUBSCRIPTION_CACHE_SECONDS"], old = 60, app.config["WEBHOOK_SUBSCRIPTION_CACHE_SECONDS"]
        try:
            site_id = sites.site_snapshot(site_key, 0).id
            stale = {"consent.recorded": (999,)}  # what an earlier read found
            webhooks._subs[site_id] = (time.monotonic() - 120, stale)
            sites._refreshing.add(("subs", site_id))
            try:
                assert webhooks.subscriptions(site_id) is stale
            finally:
                sites._refreshing.discard(("subs", site_id))
            assert webhooks.subscriptions(site_id) == {}  # re-read: the site has no endpoints
        finally:
            app.config["WEBHOOK_SUBSCRIPTION_CACHE_SECONDS"] = old
            webhooks.invalidate_subscriptions()
