"""Who the controller is: the site owner's identity and contact, as its site document holds them.

GDPR 13/14 and 15 ask that a person be told who the controller is and how to reach it (and its
data-protection officer, where there is one); Kantara Consent Receipt v1.1 requires `contact`,
`address`, `email` and `phone` for each `piiControllers` entry. Every field is optional: where the
site has not given one, the documents that need it say that it is missing rather than invent it.
The values are the owner's own text, shown as text and never as HTML.
"""
import re
from typing import Any

from app.extensions import caches, db
from app.models import Site
from app.services import audit
from app.services.sites.errors import SiteError

CONTROLLER_FIELDS = ("organisation", "contact", "address", "email", "phone")
DPO_FIELDS = ("name", "address", "email", "phone")
# the fields a Kantara piiControllers entry must carry, named as in the site document
KANTARA_REQUIRED = ("organisation", "contact", "address", "email", "phone")
TEXT_MAX = {"address": 1000, "email": 320}
TEXT_MAX_DEFAULT = 300

# Loose on purpose: a typo'd address is the owner's to fix; what no mail or phone system reads is refused.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
PHONE = re.compile(r"\+?[0-9 ()./-]{3,40}")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # a newline (and tab) may stand in an address


def _problems(prefix: str, doc: Any, names: tuple[str, ...], nested: tuple[str, ...] = ()) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{prefix}: a mapping of {', '.join(names + nested)}"]
    problems = [f"{prefix}.{k}: unknown field" for k in doc if k not in names + nested]
    for name in names:
        value = doc.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{prefix}.{name}: text")
            continue
        value = value.strip()
        if len(value) > TEXT_MAX.get(name, TEXT_MAX_DEFAULT) or CONTROL.search(value):
            problems.append(f"{prefix}.{name}: at most {TEXT_MAX.get(name, TEXT_MAX_DEFAULT)} characters of text")
        elif name == "email" and value and not EMAIL.fullmatch(value):
            problems.append(f"{prefix}.{name}: an email address")
        elif name == "phone" and value and (not PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 3):
            problems.append(f"{prefix}.{name}: a phone number (digits, spaces, + ( ) . / -)")
    return problems


def controller_problems(doc: Any) -> list[str]:
    """Every problem with a site document's `controller` mapping (None or absent is no controller)."""
    if doc is None:
        return []
    problems = _problems("controller", doc, CONTROLLER_FIELDS, ("dpo",))
    if isinstance(doc, dict) and doc.get("dpo") is not None:
        problems += _problems("controller.dpo", doc["dpo"], DPO_FIELDS)
    return problems


def normalise_controller(doc: dict | None) -> dict[str, Any]:
    """The stored form of a valid `controller` mapping: trimmed, empty values left out."""
    doc = doc or {}
    out: dict[str, Any] = {k: doc[k].strip() for k in CONTROLLER_FIELDS if (doc.get(k) or "").strip()}
    dpo = {k: doc["dpo"][k].strip() for k in DPO_FIELDS if (doc.get("dpo") or {}).get(k, "").strip()}
    if dpo:
        out["dpo"] = dpo
    return out


def missing_fields(controller: dict | None) -> list[str]:
    """The fields a receipt needs that the site has not given (`dpo` is not one: not every controller has one)."""
    return [k for k in KANTARA_REQUIRED if not (controller or {}).get(k)]


def controller_doc(site_name: str, controller: dict | None) -> dict[str, Any]:
    """Who the controller is, for a subject's export: every field (null where not given), the
    data-protection officer where there is one, and which fields the site has not given."""
    controller = controller or {}
    doc: dict[str, Any] = {"site": site_name, **{k: controller.get(k) for k in CONTROLLER_FIELDS}}
    doc["dpo"] = controller.get("dpo")
    doc["missing"] = missing_fields(controller)
    return doc


def kantara_controller(site_name: str, controller: dict | None) -> dict[str, Any]:
    """A Kantara CR v1.1 `piiControllers` entry. The site's name stands in for a missing organisation
    (as receipts had it before); a missing required field is null and named in `x-opsiq-missing`."""
    controller = controller or {}
    entry: dict[str, Any] = {
        "piiController": controller.get("organisation") or site_name, "onBehalf": False,
        "contact": controller.get("contact"), "address": controller.get("address"),
        "email": controller.get("email"), "phone": controller.get("phone"),
    }
    if controller.get("dpo"):
        entry["x-opsiq-dpo"] = controller["dpo"]
    missing = missing_fields(controller)
    if missing:
        entry["x-opsiq-missing"] = missing
    return entry


def update_controller(site: Site, changes: dict[str, Any]) -> dict[str, Any]:
    """Set some of a site's controller fields (`dpo` a mapping of its own; an empty text clears a
    field) and commit; returns the stored controller. SiteError names every invalid field."""
    merged = dict(site.controller or {})
    dpo = {**merged.get("dpo", {}), **changes.get("dpo", {})}
    merged.update({k: v for k, v in changes.items() if k != "dpo"})
    merged["dpo"] = dpo
    problems = controller_problems(merged)
    if problems:
        raise SiteError("; ".join(problems))
    site.controller = normalise_controller(merged) or None
    caches.changed("sites", site.site_key)
    audit.record("site.updated", audit.Target("site", site.site_key), site.id,
                 {"fields": ["controller"], "changed": sorted(changes)})
    db.session.commit()
    return site.controller or {}
