"""What a scan takes from the app's configuration, and what it is asked to scan (URL and regions)."""
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import Invalid

DEFAULT_REGIONS = ("DE", "US-CA")
REGION_PATTERN = r"^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$"  # DE, US-CA: ISO 3166-1, or 3166-2 (either case)
_REGION = re.compile(REGION_PATTERN)


class ScanError(Invalid):
    """A scan that cannot be run as asked: a bad URL or region, a refused address, no Chromium."""


@dataclass(frozen=True)
class Settings:
    """Read once where the command or worker starts (app/config.py SCAN_*)."""

    chromium: str | None
    page_seconds: float
    allow_private: bool
    secret: str
    service_origin: str | None  # this service as widget tags name it: always fetched
    axe_path: str | None

    @classmethod
    def from_app(cls, app) -> "Settings":
        """The scanner's settings from the app's config."""
        flag = app.config.get("SCAN_ALLOW_PRIVATE")
        allow = app.config.get("OPSIQ_ENV") != "production" if flag is None else bool(flag)
        axe = app.config.get("SCAN_AXE") or os.path.join(os.path.dirname(app.root_path), "widget", "node_modules",
                                                         "axe-core", "axe.min.js")
        service = app.config.get("SCAN_SERVICE_URL")
        return cls(app.config.get("SCAN_CHROMIUM") or None, float(app.config["SCAN_PAGE_SECONDS"]), allow,
                   app.config["SECRET_KEY"], origin_of(service) if service else None, axe)


@dataclass(frozen=True)
class Region:
    """Where the scanned visitor is: `code` as asked (`DE`, `US-CA`), its ISO country and region."""

    code: str
    country: str
    region: str | None


def parse_regions(codes) -> list[Region]:
    """`DE`, `US-CA`, ... as Regions (DEFAULT_REGIONS when none are given); ScanError naming a bad one."""
    out, seen = [], set()
    for raw in codes or DEFAULT_REGIONS:
        code = str(raw).strip().upper()
        if not _REGION.fullmatch(code):
            raise ScanError(f"{raw!r} is not a region: an ISO country (DE) or country-region (US-CA)",
                            {"regions": [f"{raw!r} is not an ISO country or country-region code"]})
        if code not in seen:
            seen.add(code)
            out.append(Region(code, code[:2], code if "-" in code else None))
    if len(out) > 10:
        raise ScanError("at most 10 regions in one scan", {"regions": ["at most 10 regions in one scan"]})
    return out


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, the default port left out."""
    parts = urlsplit(url)
    port = parts.port
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")
