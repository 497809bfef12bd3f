"""Which legal regime applies where: REGULATIONS.md section 1 kept as data, not as a chain of ifs."""
from collections.abc import Mapping
from dataclasses import dataclass

OPT_IN, OPT_OUT, NOTICE = "opt_in", "opt_out", "notice"
REGIMES = (OPT_IN, OPT_OUT, NOTICE)

EU27 = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
EEA_EXTRA = "IS LI NO".split()

# How a Global Privacy Control signal is treated where the regime applies.
GPC_MUST = "must_honour"
GPC_POLICY = "honour_as_policy"
GPC_RECORD = "record"


@dataclass(frozen=True)
class Rule:
    regime: str
    gpc: str
    # Used instead of `regime` when the site runs no Google ads or analytics (Switzerland).
    regime_without_google: str | None = None


# Keys are ISO 3166-2 regions or ISO 3166-1 countries; a region's rule wins over its country's.
RULES = {
    **{c: Rule(OPT_IN, GPC_RECORD) for c in EU27 + EEA_EXTRA + ["GB"]},
    "CH": Rule(OPT_IN, GPC_RECORD, regime_without_google=OPT_OUT),
    "BR": Rule(OPT_IN, GPC_RECORD),
    "CA-QC": Rule(OPT_IN, GPC_RECORD),
    "US-CA": Rule(OPT_OUT, GPC_MUST),
    **{f"US-{s}": Rule(OPT_OUT, GPC_MUST) for s in "CO CT DE MD MN MT NE NH NJ OR TX".split()},
    **{f"US-{s}": Rule(OPT_OUT, GPC_POLICY) for s in "VA UT IA TN IN KY RI FL".split()},
    "US": Rule(NOTICE, GPC_POLICY),
}
DEFAULT_RULE = Rule(NOTICE, GPC_POLICY)
# A failed lookup or a private address fails safe to the strictest regime.
UNKNOWN_RULE = Rule(OPT_IN, GPC_RECORD)


@dataclass(frozen=True)
class Decision:
    regime: str
    gpc: str
    source: str  # which key decided: "US-CA", "DE", "override:US-NY", "default", "unknown"


def decide_regime(country: str | None, region: str | None, overrides: Mapping[str, str] | None = None,
                  uses_google: bool = True) -> Decision:
    """The regime for a visitor located at (country, region), with a site's overrides applied."""
    overrides = overrides or {}
    for key in (region, country):
        if key and key in overrides:
            rule = RULES.get(key, DEFAULT_RULE)
            return Decision(overrides[key], rule.gpc, f"override:{key}")
    if not country:
        return Decision(UNKNOWN_RULE.regime, UNKNOWN_RULE.gpc, "unknown")
    for key in (region, country):
        rule = RULES.get(key) if key else None
        if rule:
            regime = rule.regime_without_google if (not uses_google and rule.regime_without_google) else rule.regime
            return Decision(regime, rule.gpc, key)
    return Decision(DEFAULT_RULE.regime, DEFAULT_RULE.gpc, "default")


def opt_in_codes() -> list[str]:
    """Every ISO code whose default regime is opt-in, for Consent Mode `region` defaults."""
    return sorted(k for k, r in RULES.items() if r.regime == OPT_IN)
