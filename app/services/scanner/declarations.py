"""The declarations a scan proposes: every cookie and storage key it saw, grouped by the purpose
whose scripts set them, in the site document's purpose fields (`cookies`, `storage_keys`).

Who set a key: the script that wrote it (observe.py records document.currentScript's
data-consent for each write); else the purpose that already declares it; else, when the key
appeared only once the visitor accepted and only one gated purpose's scripts ran, that purpose;
else `unassigned`.
"""
from collections.abc import Iterable, Mapping
from typing import Any

from app.services.scanner.findings import declared, stored

STORES = {"cookie": "cookies", "local": "storage_keys", "session": "storage_keys",
          "localStorage": "storage_keys", "sessionStorage": "storage_keys"}


def _writers(obs: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(field, name) -> the data-consent of the gated script that wrote it (first write wins)."""
    out = {}
    for store, name, who in obs.get("writes", []):
        if who and (STORES.get(store), name) not in out:
            out[(STORES.get(store), name)] = who.replace(",", " ").split()[0]
    return out


def propose(states_by_region: Mapping[str, Mapping[str, Mapping[str, Any]]],
            purposes: Iterable[Mapping[str, Any]]) -> dict:
    """{"purposes": [{slug, cookies, storage_keys, new_cookies, new_storage_keys}], "unassigned": {...}}:
    each purpose's lists are what it declares now plus what was seen, ready to replace its fields."""
    purposes = list(purposes)
    slugs = {p["slug"] for p in purposes}
    seen: dict[tuple[str, str], str | None] = {}
    for states in states_by_region.values():
        rejected = {(STORES[s], n) for s, n in stored(states.get("reject", {}))}
        for obs in states.values():
            if "error" in obs:
                continue
            writers = _writers(obs)
            ran = {c for item in obs.get("scripts", []) + obs.get("iframes", []) if item.get("consent")
                   for c in item["consent"].replace(",", " ").split() if c in slugs}
            for store, name in stored(obs):
                key = (STORES[store], name)
                who = writers.get(key) if writers.get(key) in slugs else None
                who = who or declared(purposes, key[0], name)
                if who is None and obs["state"] == "accept" and key not in rejected and len(ran) == 1:
                    who = next(iter(ran))
                if seen.get(key) is None:
                    seen[key] = who
    groups = []
    for p in purposes:
        mine = {key for key, who in seen.items() if who == p["slug"]}
        new_cookies = sorted(n for f, n in mine if f == "cookies" and not declared([p], "cookies", n))
        new_keys = sorted(n for f, n in mine if f == "storage_keys" and not declared([p], "storage_keys", n))
        if mine:
            groups.append({"slug": p["slug"], "cookies": list(p.get("cookies") or []) + new_cookies,
                           "storage_keys": list(p.get("storage_keys") or []) + new_keys,
                           "new_cookies": new_cookies, "new_storage_keys": new_keys})
    loose = [key for key, who in seen.items() if who is None]
    return {"purposes": groups,
            "unassigned": {"cookies": sorted(n for f, n in loose if f == "cookies"),
                           "storage_keys": sorted(n for f, n in loose if f == "storage_keys")}}
