"""What a scan's observations show a page doing wrong: each finding a `kind`, where (region and
state) and the evidence. The rules, one function each:

- storage_before_consent / request_before_consent (opt-in regions): a cookie or storage key no
  necessary purpose declares, or a request to another host, before any choice or after Reject all
  (what appeared once the visitor had rejected);
- ran_after_reject: a gated script or frame of a non-necessary purpose that ran after Reject all;
- undeclared_cookie: a cookie or storage key the page set that no purpose of the site lists;
- consent_mode_missing_default / consent_mode_order: Consent Mode commands with no `default`, or a
  `config` or `event` pushed before it;
- gpc_ignored: with GPC on, a sale/share purpose granted, its scripts run, or an ad_* signal granted;
- banner_asymmetric: Accept all and Reject all differ in size, colour or element;
- banner_a11y: axe-core's violations inside the banner.
"""
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from app.services.purposes import is_sale_or_share
from app.services.scanner.observe import WIDGET_PREFIX

SIZE_TOLERANCE = 0.1  # a tenth of the larger button's width or height: more reads as "less prominent"


def declared(purposes: Iterable[Mapping[str, Any]], field: str, name: str, necessary_only: bool = False) -> str | None:
    """The slug of the first purpose whose `cookies` / `storage_keys` patterns (fnmatch) match `name`."""
    for p in purposes:
        if necessary_only and p["legal_basis"] != "necessary":
            continue
        if any(fnmatchcase(name, pattern) for pattern in p.get(field) or []):
            return p["slug"]
    return None


def stored(obs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(store, name) of everything the page keeps in the browser, the widget's own keys left out."""
    out = [("cookie", c["name"]) for c in obs.get("cookies", [])]
    out += [("localStorage", k) for k in obs.get("local_storage", []) if not k.startswith(WIDGET_PREFIX)]
    out += [("sessionStorage", k) for k in obs.get("session_storage", []) if not k.startswith(WIDGET_PREFIX)]
    return out


def _field(store: str) -> str:
    return "cookies" if store == "cookie" else "storage_keys"


def _finding(kind, region, state, evidence, **extra):
    return {"kind": kind, "region": region, "state": state, **extra, "evidence": evidence}


def storage_before_consent(region, obs, purposes):
    """Opt-in: what the page stored before a choice (state `before`) or newly after Reject all."""
    earlier = obs.get("before_choice")
    old = set()
    if earlier is not None:  # after Reject all: only what was not there before the click
        old = {("cookie", n) for n in earlier["cookies"]} | {("localStorage", k) for k in earlier["local"]} | \
              {("sessionStorage", k) for k in earlier["session"]}
    out = []
    for store, name in stored(obs):
        if (store, name) in old or declared(purposes, _field(store), name, necessary_only=True):
            continue
        cookie = next((c for c in obs["cookies"] if c["name"] == name), None) if store == "cookie" else None
        out.append(_finding("storage_before_consent", region, obs["state"],
                            {"store": store, "name": name, **({k: cookie[k] for k in ("domain", "party", "lifetime")}
                                                              if cookie else {})}))
    return out


def request_before_consent(region, obs):
    """Opt-in: requests to other hosts before a choice, or after Reject all (one finding per host)."""
    phases = ("load",) if obs["state"] == "before" else ("choice", "reload")
    by_host: dict[str, list[str]] = {}
    for r in obs.get("requests", []):
        if r["phase"] in phases:
            by_host.setdefault(r["host"], []).append(r["url"])
    return [_finding("request_before_consent", region, obs["state"],
                     {"host": host, "count": len(urls), "urls": urls[:5]}) for host, urls in by_host.items()]


def _not_necessary(consent: str, purposes) -> bool:
    necessary = {p["slug"] for p in purposes if p["legal_basis"] == "necessary"}
    return any(slug not in necessary for slug in consent.replace(",", " ").split())


def ran_after_reject(region, obs, purposes):
    """Gated scripts and frames of non-necessary purposes that ran on the page after Reject all."""
    out = []
    for s in obs.get("scripts", []):
        if s["consent"] and _not_necessary(s["consent"], purposes):
            out.append(_finding("ran_after_reject", region, "reject",
                                {"element": "script", "consent": s["consent"], "src": s["src"], "inline": s["inline"]}))
    for f in obs.get("iframes", []):
        if f["consent"] and _not_necessary(f["consent"], purposes):
            out.append(_finding("ran_after_reject", region, "reject",
                                {"element": "iframe", "consent": f["consent"], "src": f["src"]}))
    return out


def undeclared(region, states, purposes):
    """Cookies and storage keys seen in any state that no purpose lists (each once per region)."""
    seen, out = set(), []
    for state, obs in states.items():
        for store, name in stored(obs):
            if (store, name) in seen or declared(purposes, _field(store), name):
                continue
            seen.add((store, name))
            out.append(_finding("undeclared_cookie", region, state, {"store": store, "name": name}))
    return out


def _command(entry):
    """('consent', 'default') / ('config', None) / ('event', name) for a gtag command or an event object."""
    if isinstance(entry, list) and entry and isinstance(entry[0], str):
        return entry[0], entry[1] if len(entry) > 1 and isinstance(entry[1], str) else None
    if isinstance(entry, dict) and isinstance(entry.get("event"), str):
        return "event", entry["event"]
    return None, None


def consent_mode(region, obs):
    """consent_mode_missing_default when the page uses the dataLayer with no consent default;
    consent_mode_order for each `config` or `event` pushed before the first default."""
    commands = [(i, *_command(e)) for i, e in enumerate(obs.get("datalayer", []))]
    commands = [c for c in commands if c[1] is not None]
    default = next((i for i, name, arg in commands if name == "consent" and arg == "default"), None)
    early = [(i, name, arg) for i, name, arg in commands
             if name in ("config", "event") and (default is None or i < default)]
    if default is None:
        return [_finding("consent_mode_missing_default", region, obs["state"],
                         {"commands": [[name, arg] for _, name, arg in commands][:10]})] if commands else []
    return [_finding("consent_mode_order", region, obs["state"],
                     {"command": name, "argument": arg, "position": i, "default_position": default})
            for i, name, arg in early]


def consent_signals(datalayer, region):
    """The Consent Mode values in force at the end: the default for this region (else the one for
    all regions), then each update in order."""
    values, regional = {}, {}
    for entry in datalayer:
        if not (isinstance(entry, list) and len(entry) >= 3 and entry[0] == "consent" and isinstance(entry[2], dict)):
            continue
        body = {k: v for k, v in entry[2].items() if k not in ("region", "wait_for_update")}
        if entry[1] == "default":
            where = entry[2].get("region")
            if where:
                if region.code in where or region.country in where:
                    regional.update(body)
            else:
                values.update(body)
        elif entry[1] == "update":
            values.update(regional)
            regional = {}
            values.update(body)
    values.update(regional)
    return values


def gpc_ignored(region, obs, purposes):
    """With GPC on: a sale/share purpose in force, a gated script or frame of one run, an ad_* signal granted."""
    sale = {p["slug"] for p in purposes if is_sale_or_share(p)}
    out = []
    for slug, on in (obs.get("decisions") or {}).items():
        if on and slug in sale:
            out.append(_finding("gpc_ignored", region, "gpc", {"purpose": slug, "decision": "granted"}))
    for item in obs.get("scripts", []) + obs.get("iframes", []):
        slugs = set((item.get("consent") or "").replace(",", " ").split())
        if slugs & sale:
            out.append(_finding("gpc_ignored", region, "gpc", {"ran": item.get("src") or item.get("inline"),
                                                               "consent": item["consent"]}))
    granted = sorted(k for k, v in consent_signals(obs.get("datalayer", []), region).items()
                     if k.startswith("ad_") and v == "granted")
    if granted:
        out.append(_finding("gpc_ignored", region, "gpc", {"consent_mode_granted": granted}))
    return out


def banner_asymmetric(region, obs):
    """Accept all and Reject all (the opt-in banner's first two buttons) of unequal weight."""
    buttons = obs.get("buttons") or []
    if len(buttons) < 2:
        return []
    accept, reject = buttons[0], buttons[1]
    differ = []
    for key in ("width", "height"):
        if abs(accept[key] - reject[key]) > SIZE_TOLERANCE * max(accept[key], reject[key], 1):
            differ.append(key)
    differ += [k for k in ("element", "background", "color", "font_size", "font_weight", "border")
               if accept[k] != reject[k]]
    return [_finding("banner_asymmetric", region, "before", {"differ": differ, "accept": accept, "reject": reject})] \
        if differ else []


def banner_a11y(region, obs):
    """axe-core's violations inside the banner, one finding per rule."""
    return [_finding("banner_a11y", region, "before", v) for v in obs.get("axe") or []]


def findings_for(region, states: Mapping[str, Mapping[str, Any]], purposes) -> list[dict]:
    """Every finding of one region's four states."""
    before = states.get("before", {})
    opt_in = before.get("regime") == "opt_in"
    out = []
    for state in ("before", "reject"):
        obs = states.get(state)
        if opt_in and obs and "error" not in obs:
            out += storage_before_consent(region.code, obs, purposes) + request_before_consent(region.code, obs)
    if states.get("reject") and "error" not in states["reject"]:
        out += ran_after_reject(region.code, states["reject"], purposes)
    out += undeclared(region.code, {s: o for s, o in states.items() if "error" not in o}, purposes)
    seen = set()  # the same early command in every state is one finding, where it was first seen
    for obs in states.values():
        for f in consent_mode(region.code, obs) if "error" not in obs else []:
            key = (f["kind"], f["evidence"].get("command"), f["evidence"].get("argument"))
            if key not in seen:
                seen.add(key)
                out.append(f)
    if states.get("gpc") and "error" not in states["gpc"]:
        out += gpc_ignored(region, states["gpc"], purposes)
    out += banner_asymmetric(region.code, before) + banner_a11y(region.code, before)
    return out
