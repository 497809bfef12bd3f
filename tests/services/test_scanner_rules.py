"""The scanner's rules on observations as plain data (the browser tests cover them on real pages):
the banner's symmetry, Consent Mode without a default, the signals in force, the address rule."""
import ipaddress

from app.services.addresses import is_public
from app.services.scanner.findings import banner_asymmetric, consent_mode, consent_signals
from app.services.scanner.settings import Region

BUTTON = {"text": "Accept all", "element": "button", "width": 120, "height": 40, "background": "rgb(0, 0, 0)",
          "color": "rgb(255, 255, 255)", "font_size": "16px", "font_weight": "400", "border": "0px none rgb(0, 0, 0)"}


def test_accept_and_reject_of_unequal_weight_are_a_finding():
    same = {**BUTTON, "text": "Reject all", "width": 118}
    assert banner_asymmetric("DE", {"buttons": [BUTTON, same]}) == []
    pale = {**same, "width": 80, "background": "rgb(255, 255, 255)", "element": "a"}
    [finding] = banner_asymmetric("DE", {"buttons": [BUTTON, pale]})
    assert finding["kind"] == "banner_asymmetric"
    assert finding["evidence"]["differ"] == ["width", "element", "background"]


def test_consent_mode_without_a_default_and_out_of_order():
    [missing] = consent_mode("DE", {"state": "before", "datalayer": [["js", "x"], ["config", "G-1"]]})
    assert missing["kind"] == "consent_mode_missing_default"
    early = consent_mode("DE", {"state": "before", "datalayer": [
        {"event": "gtm.js"}, ["consent", "default", {"ad_storage": "denied"}], ["config", "G-1"]]})
    assert [(f["kind"], f["evidence"]["command"], f["evidence"]["argument"]) for f in early] == [
        ("consent_mode_order", "event", "gtm.js")]
    assert consent_mode("DE", {"state": "before", "datalayer": []}) == []


def test_signals_in_force_take_the_visitors_region_then_updates():
    layer = [["consent", "default", {"ad_storage": "denied", "region": ["DE", "FR"]}],
             ["consent", "default", {"ad_storage": "granted"}]]
    assert consent_signals(layer, Region("DE", "DE", None)) == {"ad_storage": "denied"}
    assert consent_signals(layer, Region("US-CA", "US", "US-CA")) == {"ad_storage": "granted"}
    layer.append(["consent", "update", {"ad_storage": "granted"}])
    assert consent_signals(layer, Region("DE", "DE", None)) == {"ad_storage": "granted"}


def test_public_means_global_unicast_judged_as_the_ipv4_inside():
    for text in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
                 "2002:a00:1::", "fe80::1", "224.0.0.1", "100.64.0.1"):
        assert not is_public(ipaddress.ip_address(text)), text
    for text in ("81.169.145.1", "2a02:2e0::1", "::ffff:81.169.145.1"):
        assert is_public(ipaddress.ip_address(text)), text
