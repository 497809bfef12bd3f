"""truncate_ip's dotted-quad shortcut answers exactly as the ipaddress module would."""
import random

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
