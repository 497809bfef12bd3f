"""truncate_ip: the dotted-quad shortcut answers as the ipaddress module would, and IPv6 forms that
carry an IPv4 address are cut as that IPv4 address (a /48 of a 6to4 address keeps all of it)."""
import random

import pytest

from app.services.geo import truncate_ip, truncate_parsed


def test_the_shortcut_agrees_with_ipaddress_on_odd_and_random_input():
    cases = ["81.169.145.77", " 81.169.145.77\n", "0.0.0.0", "255.255.255.255", "1.2.3.256", "01.2.3.4",
             "1.2.3.04", "1.2.3", "1.2.3.4.5", "1..2.3", "\u0661.2.3.4", "\u00b2.2.3.4", "1.2.3.-4", "1.2.3.+4",
             "1.2.3.4 5", "", None, "::1", "::ffff:81.169.145.77", "2a02:2e0:3fe:1001:302::1"]
    rnd = random.Random(5)
    parts = ["0", "00", "1", "9", "09", "10", "99", "199", "255", "256", "300", "a", "", " 1", "1_0"]
    cases += [".".join(rnd.choice(parts) for _ in range(rnd.choice((3, 4, 4, 4, 5)))) for _ in range(5000)]
    assert [truncate_ip(c) for c in cases] == [truncate_parsed((c or "").strip()) for c in cases]
    assert truncate_ip("81.169.145.77") == "81.169.145.0" and truncate_ip("2a02:2e0::1") == "2a02:2e0::"


@pytest.mark.parametrize("address, stored", [
    ("::ffff:81.169.145.77", "81.169.145.0"),          # IPv4-mapped
    ("::81.169.145.77", "81.169.145.0"),               # IPv4-compatible
    ("64:ff9b::81.169.145.77", "81.169.145.0"),        # NAT64, well-known prefix
    ("64:ff9b:1::81.169.145.77", "81.169.145.0"),      # NAT64, local-use prefix
    ("2002:51a9:914d::1", "81.169.145.0"),             # 6to4: 2002:<the IPv4 address>::/48
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.0"),  # Teredo: the client's address
    ("2a02:2e0:3fe:1001:302::1", "2a02:2e0:3fe::"),    # plain IPv6: /48
    ("::1", "::"),
])
def test_an_embedded_ipv4_address_is_cut_as_ipv4(address, stored):
    assert truncate_ip(address) == stored
