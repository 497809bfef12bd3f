"""A site's audit log (/admin/sites/<site_key>/audit): who did what, newest first, filtered by actor,
action and time, paged by entry id, and the filtered entries as CSV.

The entries and the CSV are app/services/audit.py's, as GET /api/v1/audit-log and `flask audit list`
read them: the CSV of a filter is the API's CSV of the same filter (oldest first, every entry). An
actor is shown as the log names it; a dashboard user (`user:<id>`) also by their email, since
dashboard users are operators, not data subjects. The actor filter takes the log's name of an actor
(`key:...`, `cli:...`, `user:<id>`, `system`, `visitor`) or a dashboard user's email. Times are UTC.
"""
import datetime as dt
import json
import re

from flask import Response, request, stream_with_context, url_for

from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.errors import Invalid
from app.services import audit
from app.services.users import access, accounts

SITE_PAGES.append(("admin.audit_log", "Audit log", "audit.read"))
PAGE_SIZE = 50
KEYED_HASH = re.compile(r"[0-9a-f]{64}")


def _time(value: str) -> dt.datetime | None:
    """A time as <input type=datetime-local> sends it (or any ISO 8601 time), UTC unless it says otherwise."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def filters_from(args) -> tuple[dict, dict, list[str], bool]:
    """(list_entries' filters, the form's values as typed, problems, whether nothing can match)."""
    values = {k: (args.get(k) or "").strip() for k in ("actor", "action", "from", "to")}
    filters, problems, nothing = {}, [], False
    actor = values["actor"]
    if actor and "@" in actor and ":" not in actor:  # a dashboard user's email, not an actor name
        user = accounts.find_user(actor)
        if user is None:
            problems.append("No dashboard user has that email.")
            nothing = True
        else:
            filters["actor"] = audit.user_actor(user.id)
    elif actor:
        filters["actor"] = actor
    if values["action"]:
        if values["action"] in audit.ACTIONS:
            filters["action"] = values["action"]
        else:
            problems.append("That is not an action of the audit log.")
            nothing = True
    for key, name in (("from", "start"), ("to", "end")):
        if values[key]:
            when = _time(values[key])
            if when is None:
                problems.append(f"“{key.capitalize()}” is not a date and time.")
                nothing = True
            else:
                filters[name] = when
    return filters, values, problems, nothing


def _target_user(entry: dict) -> int | None:
    target = entry["target"]
    return audit.user_id_of(audit.user_actor(target["id"])) if target["kind"] == "user" and target["id"] else None


def short(value):
    """A keyed hash (64 hex digits) cut to its first 12, enough to tell people apart on a page; the
    CSV has every digit."""
    return value[:12] + "…" if isinstance(value, str) and KEYED_HASH.fullmatch(value) else value


def _details(details: dict) -> str:
    """`key: value, ...` as a person reads it (strings bare, other values as JSON writes them)."""
    def shown(v):
        return short(v) if isinstance(v, str) else json.dumps(v)

    return ", ".join(f"{k}: {', '.join(map(shown, v)) if isinstance(v, list) else shown(v)}"
                     for k, v in details.items())


@bp.get("/sites/<site_key>/audit")
def audit_log(site_key):
    """A page of the site's audit entries, newest first, filtered; older entries on the next page."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "audit.read")
    filters, values, problems, nothing = filters_from(request.args)
    before = request.args.get("before", type=int)
    entries, more = ([], False) if nothing else audit.list_entries(
        site.id, before=before, newest_first=True, limit=PAGE_SIZE, **filters)
    ids = {i for e in entries for i in (audit.user_id_of(e["actor"]), _target_user(e)) if i is not None}
    emails = accounts.emails_by_id(ids)
    rows = [{**e, "actor_email": emails.get(audit.user_id_of(e["actor"])), "target_email": emails.get(_target_user(e)),
             "details_text": _details(e["details"])} for e in entries]
    query = {k: v for k, v in values.items() if v}
    older = url_for("admin.audit_log", site_key=site.site_key, before=entries[-1]["id"], **query) if more else None
    newest = url_for("admin.audit_log", site_key=site.site_key, **query) if before is not None else None
    csv_url = url_for("admin.audit_log_csv", site_key=site.site_key, **query)
    return site_page("admin/site/audit.html", site, user, status=422 if problems else 200, entries=rows,
                     values=values, problems=problems, actions=audit.ACTIONS, older=older, newest=newest,
                     csv_url=csv_url, filtered=bool(query), short=short)


@bp.get("/sites/<site_key>/audit.csv")
def audit_log_csv(site_key):
    """Every entry the filters select, oldest first, as CSV: the API's CSV of the same filter."""
    site = access.site_for(signed_in_user(), site_key, "audit.read")
    filters, _, problems, _ = filters_from(request.args)
    if problems:
        raise Invalid(" ".join(problems))
    entries = audit.iter_entries(site.id, **filters)
    headers = {"Content-Disposition": f'attachment; filename="audit-log-{site.site_key}.csv"'}
    return Response(stream_with_context(audit.render_csv(entries)), 200, headers, mimetype="text/csv")
