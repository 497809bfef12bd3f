"""What a scan may fetch: the page's URL checked up front, then every request the page makes.

Where private addresses are not allowed (production, unless SCAN_ALLOW_PRIVATE), nothing that
resolves to a loopback, private, link-local or otherwise non-public address is fetched (the
webhook rule, app/services/addresses.py), so a tenant cannot use the scanner to reach the
operator's network. This service's own origin (SCAN_SERVICE_URL) is always allowed: the widget
loads from it. Chromium resolves names itself a moment later, so a name that rebinds between the
two lookups is the limit of this check (the same one the webhook delivery documents).
"""
from urllib.parse import urlsplit

from app.services.addresses import AddressRefused, resolve_public
from app.services.scanner.settings import ScanError, Settings, origin_of

NO_NETWORK = ("data", "blob", "about")  # schemes that fetch nothing from the network
REASONS = {"unresolvable": "the host does not resolve", "non-public": "resolves to a non-public address",
           "scheme": "not an http(s) URL"}


def check_page_url(url: str, settings: Settings) -> str:
    """The URL to scan, or ScanError: http(s) with a host, and (private addresses refused) a public one."""
    try:
        parts = urlsplit(url or "")
        parts.port  # noqa: B018 (a port that is no number, or out of range, raises ValueError)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScanError(f"{url!r} is not an http(s) URL", {"url": ["must be an http(s) URL"]})
    refused = Guard(settings).refusal(url)
    if refused:
        raise ScanError(f"{url} is not scanned: {REASONS[refused]}", {"url": [REASONS[refused]]})
    return url


class Guard:
    """One scan's judge of request URLs; remembers each host's answer for the scan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._hosts: dict[tuple[str, int], str | None] = {}

    def refusal(self, url: str) -> str | None:
        """None when `url` may be fetched, else the reason (a key of REASONS)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "scheme"
        if parts.scheme in NO_NETWORK:
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "scheme"
        if self.settings.allow_private or origin_of(url) == self.settings.service_origin:
            return None
        key = (parts.hostname, port or (443 if parts.scheme == "https" else 80))
        if key not in self._hosts:
            try:
                resolve_public(*key)
                self._hosts[key] = None
            except AddressRefused as e:
                self._hosts[key] = e.reason
        return self._hosts[key]
