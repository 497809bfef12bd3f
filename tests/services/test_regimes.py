"""Region to regime, with real GeoIP lookups in the embedded database."""
import pytest

from app.extensions import geo
from app.services.geo import truncate_ip
from app.services.regimes import RULES, decide_regime
from tests.conftest import IPS


@pytest.mark.parametrize("where,country,region,regime", [
    ("DE", "DE", "DE-BE", "opt_in"),
    ("FR", "FR", None, "opt_in"),
    ("GB", "GB", None, "opt_in"),
    ("US-CA", "US", "US-CA", "opt_out"),
    ("US-NY", "US", "US-NY", "notice"),
    ("CA-QC", "CA", "CA-QC", "opt_in"),
    ("BR", "BR", None, "opt_in"),
    ("JP", "JP", None, "notice"),
    ("private", None, None, "opt_in"),
    ("DE6", "DE", None, "opt_in"),
])
def test_real_addresses_map_to_regimes(app, where, country, region, regime):
    with app.app_context():
        loc = geo.locate(truncate_ip(IPS[where]))
        assert (loc.country, loc.region) == (country, region)
        assert str(loc.database_build) == "2018-07-03"
        assert decide_regime(loc.country, loc.region).regime == regime


def test_truncation_never_keeps_host_bits():
    assert truncate_ip("81.169.145.77") == "81.169.145.0"
    assert truncate_ip("2a02:2e0:3fe:1001:7777:772e:2:85") == "2a02:2e0:3fe::"
    assert truncate_ip("::ffff:81.169.145.77") == "81.169.145.0"
    assert truncate_ip("not an ip") is None
    assert truncate_ip(None) is None


def test_overrides_and_switzerland():
    assert decide_regime("US", "US-NY", {"US-NY": "opt_out"}).regime == "opt_out"
    # a country override covers its regions, unless a region has an override of its own
    assert decide_regime("US", "US-CA", {"US": "opt_in"}).regime == "opt_in"
    assert decide_regime("US", "US-CA", {"US": "opt_in", "US-CA": "notice"}).regime == "notice"
    assert decide_regime("CH", None).regime == "opt_in"
    assert decide_regime("CH", None, uses_google=False).regime == "opt_out"


def test_gr_is_greece_and_no_eu_pseudo_code():
    assert "GR" in RULES and "EL" not in RULES and "EU" not in RULES
