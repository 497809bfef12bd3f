"""GeoIP: one geoip2 reader per process, opened lazily after the worker forks."""
import datetime as dt
import ipaddress
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import geoip2.database
import geoip2.errors
import maxminddb


def default_database_path():
    """The GeoLite2 City file shipped inside the maxminddb-geolite2 package (2018 data)."""
    import _maxminddb_geolite2

    return os.path.join(os.path.dirname(_maxminddb_geolite2.__file__), "GeoLite2-City.mmdb")


def truncate_ip(ip):
    """Cut an address to its network: IPv4 to /24, IPv6 to /48. None for anything unparsable."""
    try:
        addr = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class Location:
    """Where an address is: ISO country, ISO 3166-2 region (`US-CA`) and the database build date."""

    country: str | None
    region: str | None
    database_build: dt.date | None


class GeoReader:
    """Flask extension holding the process's reader; `locate` never raises."""

    def __init__(self):
        self._path = None
        self._reader = None
        self._lock = threading.Lock()

    def init_app(self, app):
        self._path = app.config.get("GEOIP_DATABASE") or default_database_path()
        self._reader = None
        self._locate_cached.cache_clear()
        app.extensions["opsiq_geo"] = self

    @property
    def reader(self):
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    # MODE_MMAP_EXT insists on the C extension: no silent fall-back to pure Python
                    self._reader = geoip2.database.Reader(self._path, mode=maxminddb.MODE_MMAP_EXT)
        return self._reader

    @property
    def build_date(self):
        return dt.datetime.fromtimestamp(self.reader.metadata().build_epoch, dt.timezone.utc).date()

    def info(self):
        """Type, build date, path and size of the database in use."""
        meta = self.reader.metadata()
        return {
            "path": self._path,
            "database_type": meta.database_type,
            "build_date": self.build_date.isoformat(),
            "node_count": meta.node_count,
            "ip_version": meta.ip_version,
        }

    def locate(self, truncated_ip):
        """Country and ISO 3166-2 region of an address; unknown and private addresses give Nones.

        It is given the truncated address: a /24 or /48 places a visitor as well as the full one,
        and an auditor can repeat the lookup from what the record stores.
        """
        if not truncated_ip:
            return Location(None, None, self.build_date)
        return self._locate_cached(truncated_ip)

    @lru_cache(maxsize=65536)
    def _locate_cached(self, ip):
        country = region = None
        try:
            if ipaddress.ip_address(ip).is_global:
                if "City" in self.reader.metadata().database_type:
                    rec = self.reader.city(ip)
                    sub = rec.subdivisions.most_specific.iso_code
                else:
                    rec = self.reader.country(ip)
                    sub = None
                country = rec.country.iso_code
                if country and sub:
                    region = f"{country}-{sub}"
        except (geoip2.errors.AddressNotFoundError, ValueError):
            pass
        return Location(country, region, self.build_date)
