"""GeoIP: one geoip2 reader per process, opened lazily after the worker forks."""
import datetime as dt
import ipaddress
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import geoip2.database
import geoip2.errors
import maxminddb
from flask import current_app

from app.services.addresses import judged

if TYPE_CHECKING:
    from flask import Flask


def default_database_path() -> str:
    """The GeoLite2 City file shipped inside the maxminddb-geolite2 package (2018 data)."""
    import _maxminddb_geolite2

    return os.path.join(os.path.dirname(_maxminddb_geolite2.__file__), "GeoLite2-City.mmdb")


def truncate_ip(ip: str | None) -> str | None:
    """Cut an address to its network: IPv4 to /24, IPv6 to /48. None for anything unparsable."""
    text = (ip or "").strip()
    octets = text.split(".")
    # the common case, a plain dotted quad, without the ipaddress module (every write takes this)
    if len(octets) == 4 and all(o.isascii() and o.isdigit() and (o == "0" or o[0] != "0") and int(o) < 256
                                for o in octets):
        return f"{octets[0]}.{octets[1]}.{octets[2]}.0"
    return truncate_parsed(text)


def truncate_parsed(text: str) -> str | None:
    """truncate_ip by the ipaddress module: any form of either version (the reference for the shortcut).
    An IPv6 address that carries an IPv4 one is cut as that IPv4 address (app/services/addresses.py)."""
    try:
        addr = judged(ipaddress.ip_address(text))
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class Location:
    """Where an address is: ISO country, ISO 3166-2 region (`US-CA`) and the database build date."""

    country: str | None
    region: str | None
    database_build: dt.date | None


class GeoDatabase:
    """One opened database (per app and process); opened on first use, after a worker forks."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._reader = None
        self._lock = threading.Lock()
        self.locate_cached = lru_cache(maxsize=65536)(self._locate)

    @property
    def reader(self) -> geoip2.database.Reader:
        """The opened reader (opened on first use, in the process that uses it)."""
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    # MODE_MMAP_EXT insists on the C extension: no silent fall-back to pure Python
                    self._reader = geoip2.database.Reader(self.path, mode=maxminddb.MODE_MMAP_EXT)
                    meta = self._reader.metadata()
                    self.build_date = dt.datetime.fromtimestamp(meta.build_epoch, dt.timezone.utc).date()
                    self.is_city = "City" in meta.database_type
        return self._reader

    def _locate(self, ip: str) -> Location:
        reader = self.reader
        country = region = None
        try:
            if ipaddress.ip_address(ip).is_global:
                rec = reader.city(ip) if self.is_city else reader.country(ip)
                country = rec.country.iso_code
                sub = rec.subdivisions.most_specific.iso_code if self.is_city else None
                if country and sub:
                    region = f"{country}-{sub}"
        except (geoip2.errors.AddressNotFoundError, ValueError):
            pass
        return Location(country, region, self.build_date)


class GeoReader:
    """Flask extension: each app gets its own GeoDatabase; `locate` never raises."""

    def init_app(self, app: "Flask") -> None:
        """Give `app` its own database, from GEOIP_DATABASE or the packaged GeoLite2 file."""
        app.extensions["opsiq_geo"] = GeoDatabase(app.config.get("GEOIP_DATABASE") or default_database_path())

    @property
    def _db(self) -> GeoDatabase:
        return current_app.extensions["opsiq_geo"]

    @property
    def build_date(self) -> dt.date:
        """The build date of the app's database, opening it if need be."""
        db = self._db
        db.reader
        return db.build_date

    def info(self) -> dict[str, Any]:
        """Type, build date, path and size of the database in use."""
        db = self._db
        meta = db.reader.metadata()
        return {
            "path": db.path,
            "database_type": meta.database_type,
            "build_date": db.build_date.isoformat(),
            "node_count": meta.node_count,
            "ip_version": meta.ip_version,
        }

    def locate(self, truncated_ip: str | None) -> Location:
        """Country and ISO 3166-2 region of an address; unknown and private addresses give Nones.

        It is given the truncated address: a /24 or /48 places a visitor as well as the full one,
        and an auditor can repeat the lookup from what the record stores.
        """
        db = self._db
        if not truncated_ip:
            db.reader
            return Location(None, None, db.build_date)
        return db.locate_cached(truncated_ip)
