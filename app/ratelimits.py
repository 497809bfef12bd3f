"""Rate limits: how many calls a browser or a server may make, with flask-limiter's `limits`.

Limits, read once in `init_app`:

  RATE_LIMIT_BROWSER  per client address and site, for each browser endpoint (the consent write,
                      the site configuration and widget script, identity links); default 600/minute
  RATE_LIMIT_SERVER   per API key, for each server endpoint (checks, exports, administration);
                      default 60000/minute
  RATE_LIMIT_SIGN_IN  failed dashboard sign-ins per account (its email, known or not); default
                      5 per 15 minutes, cleared by a successful sign-in
  RATE_LIMIT_SIGN_IN_ADDRESS  failed dashboard sign-ins per client address; default 20 per 15 minutes
  RATE_LIMITS         False turns them all off

Counters live in Redis when REDIS_URL is set, so every process of every server shares them;
otherwise in each process's memory (a limit then holds per process: with N gunicorn workers a
caller may get up to N times it), in WindowCounters below: `limits`' own memory store rescans
every key from a timer every 10 ms, which at the tens of thousands of addresses a busy site sees
in a minute took half a core (measured), so this one drops expired counters once a second. A counter store that fails lets the call through (and logs):
an outage of Redis must not become an outage of consent.

The two busiest routes are answered outside Flask (app/api/front_door.py), so limits are applied
where their handlers learn the caller: `browser()` where a browser endpoint has its site key,
`server()` where an API key has been resolved (app/api/auth.py). A refused call raises
RateLimited, which the API answers 429 with Retry-After in the one error shape. The counters are
flask-limiter's (its Limiter owns the storage and the fixed-window strategy). The dashboard's
sign-in counts only failures, so it asks first (`sign_in_allowed`) and counts a failure after
(`sign_in_failed`) on the same store; the dashboard answers its RateLimited with a 429 page. A
client address, an API key or an email is never stored: each counter is keyed by a keyed hash.
"""
import hashlib
import math
import threading
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from limits import parse
from limits.storage import Storage

from app.errors import RateLimited

DEFAULT_BROWSER = "600/minute"
DEFAULT_SERVER = "60000/minute"
DEFAULT_SIGN_IN = "5/15 minutes"
DEFAULT_SIGN_IN_ADDRESS = "20/15 minutes"


class AppLimits:
    """One app's limits: the flask-limiter Limiter (its store and strategy) and the parsed limits."""

    def __init__(self, limiter: Limiter, browser: str, server: str, secret: bytes, enabled: bool,
                 sign_in: str = DEFAULT_SIGN_IN, sign_in_address: str = DEFAULT_SIGN_IN_ADDRESS) -> None:
        self.limiter = limiter
        self.browser = parse(browser)
        self.server = parse(server)
        self.sign_in = parse(sign_in)
        self.sign_in_address = parse(sign_in_address)
        self.secret = secret
        self.enabled = enabled

    def hit(self, item, *identifiers: str) -> None:
        """Count one call against `item` for these identifiers; RateLimited once it is spent."""
        strategy = self.limiter.limiter
        try:
            if strategy.hit(item, *identifiers):
                return
            reset_at, _ = strategy.get_window_stats(item, *identifiers)
        except Exception as e:  # noqa: BLE001  (the store is out of reach: let the call through)
            current_app.logger.warning("rate limit store unavailable: %s: %s", type(e).__name__, e)
            return
        raise RateLimited(f"Too many requests: the limit is {item}. Retry later.",
                          retry_after=max(1, math.ceil(reset_at - time.time())))

    def spent(self, item, *identifiers: str) -> float | None:
        """When the spent counter of `item` for these identifiers resets (a time.time()), or None while
        another call is allowed (or the store is out of reach)."""
        strategy = self.limiter.limiter
        try:
            if strategy.test(item, *identifiers):
                return None
            return strategy.get_window_stats(item, *identifiers)[0]
        except Exception as e:  # noqa: BLE001  (the store is out of reach: let the call through)
            current_app.logger.warning("rate limit store unavailable: %s: %s", type(e).__name__, e)
            return None

    def count(self, item, *identifiers: str) -> None:
        """Count one against `item` whatever it stands at (a failure already answered)."""
        try:
            self.limiter.limiter.hit(item, *identifiers)
        except Exception as e:  # noqa: BLE001
            current_app.logger.warning("rate limit store unavailable: %s: %s", type(e).__name__, e)

    def clear(self, item, *identifiers: str) -> None:
        try:
            self.limiter.limiter.clear(item, *identifiers)
        except Exception as e:  # noqa: BLE001
            current_app.logger.warning("rate limit store unavailable: %s: %s", type(e).__name__, e)


class RateLimits:
    """The rate limits of the current app. Created unbound in app/extensions.py."""

    def init_app(self, app: Flask) -> None:
        config = app.config
        storage = config.get("REDIS_URL") or "opsiq-memory://"
        # per app, never per process: flask-limiter keeps its store on the Limiter object
        # a Redis that hangs must not hang requests: a quarter second, then the call goes through
        options = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25} if storage.startswith("redis") else {}
        limiter = Limiter(key_func=lambda: "", app=app, storage_uri=storage, storage_options=options,
                          strategy="fixed-window", headers_enabled=False, swallow_errors=True)
        app.extensions["opsiq_rate_limits"] = AppLimits(
            limiter, config["RATE_LIMIT_BROWSER"], config["RATE_LIMIT_SERVER"],
            hashlib.sha256(("opsiq-rate-limit|" + config["SECRET_KEY"]).encode()).digest()[:16],
            bool(config["RATE_LIMITS"]), config.get("RATE_LIMIT_SIGN_IN", DEFAULT_SIGN_IN),
            config.get("RATE_LIMIT_SIGN_IN_ADDRESS", DEFAULT_SIGN_IN_ADDRESS))

    @property
    def state(self) -> AppLimits:
        return current_app.extensions["opsiq_rate_limits"]

    def browser(self, address: str | None, site_key: str) -> None:
        """One call of a browser endpoint from this client address for this site (the endpoints share
        one count: a page view fetches the widget, then writes a decision or links an identity)."""
        state = current_app.extensions["opsiq_rate_limits"]
        if state.enabled:
            state.hit(state.browser, "b", client_key(state.secret, address), site_key)

    def server(self, api_key: str) -> None:
        """One call of a server endpoint with this (valid) API key; its counter is keyed by a hash of it."""
        state = current_app.extensions["opsiq_rate_limits"]
        if state.enabled:
            state.hit(state.server, "s", client_key(state.secret, api_key))

    def sign_in_allowed(self, address: str | None, account: str) -> None:
        """Whether a dashboard sign-in from this address for this account (a normalised email) may be
        tried: RateLimited once either has spent its failures, until its window ends."""
        state = current_app.extensions["opsiq_rate_limits"]
        if not state.enabled:
            return
        resets = [t for t in (state.spent(state.sign_in_address, "ia", client_key(state.secret, address)),
                              state.spent(state.sign_in, "ic", client_key(state.secret, account))) if t]
        if resets:
            wait = max(1, math.ceil(max(resets) - time.time()))
            raise RateLimited(f"Too many failed sign-ins. Try again in {math.ceil(wait / 60)} minute(s).",
                              retry_after=wait)

    def sign_in_failed(self, address: str | None, account: str) -> None:
        """Count a failed sign-in (a wrong password or code) against the address and the account."""
        state = current_app.extensions["opsiq_rate_limits"]
        if state.enabled:
            state.count(state.sign_in_address, "ia", client_key(state.secret, address))
            state.count(state.sign_in, "ic", client_key(state.secret, account))

    def sign_in_succeeded(self, account: str) -> None:
        """A sign-in went through: the account's failures are forgotten (the address's are not)."""
        state = current_app.extensions["opsiq_rate_limits"]
        if state.enabled:
            state.clear(state.sign_in, "ic", client_key(state.secret, account))

    @property
    def limiter(self) -> Limiter:
        """The app's flask-limiter Limiter (its store and strategy)."""
        return self.state.limiter


def client_key(secret: bytes, address: str | None) -> str:  # blake2b: keyed, and cheap on the hot paths
    """What a counter is keyed by for a client address or an API key: a keyed hash, so no store holds either."""
    return hashlib.blake2b((address or "").encode(), key=secret, digest_size=12).hexdigest()


class WindowCounters(Storage):
    """A fixed-window counter store in this process's memory, for `limits` ("opsiq-memory://").
    Expired counters count as zero at once and are dropped at most once a second, in one pass."""

    STORAGE_SCHEME = ["opsiq-memory"]  # noqa: RUF012  (limits' registry reads the class attribute)
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        self._counts: dict[str, list] = {}  # key -> [count, expires at (time.time())]
        self._lock = threading.Lock()
        self._sweep_at = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._sweep_at:
                self._counts = {k: c for k, c in self._counts.items() if c[1] > now}
                self._sweep_at = now + self.SWEEP_SECONDS
            counter = self._counts.get(key)
            if counter is None or counter[1] <= now:
                counter = self._counts[key] = [0, now + expiry]
            counter[0] += amount
            return counter[0]

    def get(self, key: str) -> int:
        counter = self._counts.get(key)
        return counter[0] if counter is not None and counter[1] > time.time() else 0

    def get_expiry(self, key: str) -> float:
        counter = self._counts.get(key)
        return counter[1] if counter is not None and counter[1] > time.time() else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            n, self._counts = len(self._counts), {}
        return n

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
