"""Configuration: defaults here, then the environment, then what the caller passes."""
import os


class Config:
    """Defaults for every environment; each can be overridden from the environment."""

    OPSIQ_ENV = "development"
    SECRET_KEY = "dev-only-secret-do-not-use-in-production"
    SQLALCHEMY_DATABASE_URI = None  # filled by create_app: DATABASE_URL or an instance SQLite file
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    GEOIP_DATABASE = None  # None: the GeoLite2 City file shipped in maxminddb-geolite2
    TRUSTED_PROXIES = 0
    MAX_CONTENT_LENGTH = 16 * 1024
    # Seconds a site's snapshot, API keys and keyring are cached in process; 0 disables the cache.
    SITE_CACHE_SECONDS = 5
    CACHE_MAX_ENTRIES = 10_000  # per cache and process; unknown keys are kept too, so a bound is needed
    # Changes to cached data reach every process through this channel: Redis pub/sub when REDIS_URL
    # is set, else PostgreSQL LISTEN/NOTIFY (app/invalidations.py); "" turns both off (TTL only).
    CACHE_CHANNEL = "opsiq_cache"
    REDIS_URL = None
    # app/ratelimits.py: per client address and site (browser endpoints), per API key (server endpoints)
    RATE_LIMITS = True
    RATE_LIMIT_BROWSER = "600/minute"
    RATE_LIMIT_SERVER = "60000/minute"
    RATE_LIMIT_SIGN_IN = "5/15 minutes"  # failed dashboard sign-ins per account
    RATE_LIMIT_SIGN_IN_ADDRESS = "20/15 minutes"  # failed dashboard sign-ins per client address
    HOT_PATHS = True  # app/api/front_door.py dispatches the consent write and check; False: all through Flask
    GROUP_COMMIT = True  # writes arriving together in one process share a transaction (PostgreSQL); False: one each
    HOT_CONNECTIONS = 8  # PostgreSQL connections the consent write and check may hold open per process
    WORKER_WEBHOOK_BATCH = 100  # app/worker.py: webhook deliveries per round
    WORKER_SEAL_SECONDS = 5  # app/worker.py: seconds between sealing rounds
    WORKER_RETENTION_SECONDS = 24 * 3600  # app/worker.py: seconds between retention purges (daily)
    WORKER_ROLLUP_SECONDS = 10  # app/worker.py: seconds between statistics rollups (app/services/stats/rollup.py)
    WORKER_PROOF_SECONDS = 10  # app/worker.py: seconds between rounds of building requested proof packs
    WORKER_SCAN_SECONDS = 5  # app/worker.py: seconds between looks for queued compliance scans
    # app/services/proof/: the Chromium that renders proof packs (None: packs without screenshots)
    PROOF_CHROMIUM = "/usr/bin/chromium"
    PROOF_PAGE_TIMEOUT = 20  # seconds for one page of a pack (and Chromium's start)
    # app/services/scanner/: the compliance scanner's Chromium (None: no scans), its time limit per page
    # and state, whether it may fetch private addresses (None: allowed outside production only, SSRF),
    # this service's public base URL (always fetched: the widget loads from it) and axe-core's file
    # (None: widget/node_modules/axe-core/axe.min.js; missing: the banner's a11y check is skipped).
    SCAN_CHROMIUM = "/usr/bin/chromium"
    SCAN_PAGE_SECONDS = 20
    SCAN_ALLOW_PRIVATE = None
    SCAN_SERVICE_URL = None
    SCAN_AXE = None
    AUDIT_RETENTION_DAYS = 365  # app/services/retention.py: audit entries kept this long (the seed's 12 months)
    # Seal the ledger from the write path at most this often (seconds); 0 disables it.
    LEDGER_SEAL_INTERVAL = 5
    # Records younger than this are left for the next seal, so slow transactions are not skipped.
    LEDGER_SEAL_LAG = 5

    API_TITLE = "OpsIQ Consent API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_REDOC_PATH = None  # the docs page is ours (app/docs.py): Redoc from static/docs/, with its policy
    JSON_SORT_KEYS = False

    # Personal data keys, email consent links and webhooks.
    OPSIQ_MASTER_KEY = None  # base64 of 32 bytes; required in production
    IDENTITY_TOKEN_MAX_AGE = 600  # seconds a browser identity token stays valid
    EMAIL_CONFIRM_MAX_AGE = 7 * 24 * 3600
    WEBHOOK_SUBSCRIPTION_CACHE_SECONDS = 5  # how long the consent write path trusts its list of subscribers
    WEBHOOK_RETRY_HOURS = 26  # retries go on at least this long before a delivery is a dead letter
    WEBHOOK_TIMEOUT = 10
    WEBHOOK_ALLOW_PRIVATE = None  # None: allowed in development, refused in production (SSRF)

    # The dashboard (app/admin/). Its session cookie is sent to /admin only, never readable by scripts,
    # not sent on cross-site subrequests, and Secure in production (None: decided by OPSIQ_ENV).
    SESSION_COOKIE_NAME = "opsiq_session"
    SESSION_COOKIE_PATH = "/admin"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = None
    ADMIN_IDLE_MINUTES = 30  # a session unused this long is signed out
    WTF_CSRF_CHECK_DEFAULT = False  # CSRF tokens are checked on the admin blueprint only (app/admin/__init__.py)

    # GET /metrics (app/metrics.py): the bearer token scrapers send. Unset: open in development; in
    # production not served (nor anything counted), since it tells anyone the traffic and the backlog.
    METRICS_TOKEN = None
    METRICS_MULTIPROC_DIR = None  # PROMETHEUS_MULTIPROC_DIR: every gunicorn worker's metrics, added up


def env_overrides():
    """Read the documented environment variables (exact names) into config keys."""
    out = {}
    if os.environ.get("DATABASE_URL"):
        out["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    for name in ("SECRET_KEY", "GEOIP_DATABASE", "OPSIQ_ENV", "OPSIQ_MASTER_KEY", "DEMO_SITE_KEY", "REDIS_URL",
                 "METRICS_TOKEN"):
        if os.environ.get(name):
            out[name] = os.environ[name]
    if os.environ.get("OPSIQ_PROOF_CHROMIUM") is not None:  # "": no Chromium, packs without screenshots
        out["PROOF_CHROMIUM"] = os.environ["OPSIQ_PROOF_CHROMIUM"] or None
    if os.environ.get("OPSIQ_SCAN_CHROMIUM") is not None:  # "": no Chromium, no scans
        out["SCAN_CHROMIUM"] = os.environ["OPSIQ_SCAN_CHROMIUM"] or None
    if os.environ.get("OPSIQ_SCAN_ALLOW_PRIVATE"):
        out["SCAN_ALLOW_PRIVATE"] = os.environ["OPSIQ_SCAN_ALLOW_PRIVATE"] not in ("0", "false", "no")
    for name in ("SCAN_SERVICE_URL", "SCAN_AXE"):
        if os.environ.get("OPSIQ_" + name):
            out[name] = os.environ["OPSIQ_" + name]
    if os.environ.get("OPSIQ_CACHE_CHANNEL") is not None:
        out["CACHE_CHANNEL"] = os.environ["OPSIQ_CACHE_CHANNEL"]
    if os.environ.get("OPSIQ_SITE_CACHE_SECONDS"):
        out["SITE_CACHE_SECONDS"] = float(os.environ["OPSIQ_SITE_CACHE_SECONDS"])
    if os.environ.get("OPSIQ_LEDGER_SEAL_INTERVAL"):
        out["LEDGER_SEAL_INTERVAL"] = float(os.environ["OPSIQ_LEDGER_SEAL_INTERVAL"])
    for name, key in (("OPSIQ_LEDGER_SEAL_LAG", "LEDGER_SEAL_LAG"),
                      ("OPSIQ_WORKER_SEAL_SECONDS", "WORKER_SEAL_SECONDS"),
                      ("OPSIQ_WORKER_RETENTION_SECONDS", "WORKER_RETENTION_SECONDS"),
                      ("OPSIQ_WORKER_ROLLUP_SECONDS", "WORKER_ROLLUP_SECONDS"),
                      ("OPSIQ_WORKER_PROOF_SECONDS", "WORKER_PROOF_SECONDS"),
                      ("OPSIQ_PROOF_PAGE_TIMEOUT", "PROOF_PAGE_TIMEOUT"),
                      ("OPSIQ_SCAN_PAGE_SECONDS", "SCAN_PAGE_SECONDS"),
                      ("OPSIQ_WORKER_SCAN_SECONDS", "WORKER_SCAN_SECONDS")):
        if os.environ.get(name):
            out[key] = float(os.environ[name])
    if os.environ.get("OPSIQ_ADMIN_IDLE_MINUTES"):
        out["ADMIN_IDLE_MINUTES"] = float(os.environ["OPSIQ_ADMIN_IDLE_MINUTES"])
    if os.environ.get("AUDIT_RETENTION_DAYS"):
        out["AUDIT_RETENTION_DAYS"] = int(os.environ["AUDIT_RETENTION_DAYS"])
    if os.environ.get("OPSIQ_GROUP_COMMIT"):
        out["GROUP_COMMIT"] = os.environ["OPSIQ_GROUP_COMMIT"] not in ("0", "false", "no")
    if os.environ.get("OPSIQ_HOT_CONNECTIONS"):
        out["HOT_CONNECTIONS"] = int(os.environ["OPSIQ_HOT_CONNECTIONS"])
    if os.environ.get("OPSIQ_HOT_PATHS"):
        out["HOT_PATHS"] = os.environ["OPSIQ_HOT_PATHS"] not in ("0", "false", "no")
    for name in ("RATE_LIMIT_BROWSER", "RATE_LIMIT_SERVER", "RATE_LIMIT_SIGN_IN", "RATE_LIMIT_SIGN_IN_ADDRESS"):
        if os.environ.get(name):
            out[name] = os.environ[name]
    if os.environ.get("RATE_LIMITS"):
        out["RATE_LIMITS"] = os.environ["RATE_LIMITS"] not in ("0", "false", "no", "off")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # prometheus_client's own name (gunicorn.conf.py sets it)
        out["METRICS_MULTIPROC_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if os.environ.get("TRUSTED_PROXIES"):
        out["TRUSTED_PROXIES"] = int(os.environ["TRUSTED_PROXIES"])
    return out
