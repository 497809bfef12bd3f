"""The one input gate for JSON bodies: read them, then load them with their schema.

Every body is read whatever its Content-Type (a browser POSTs `text/plain` to avoid a CORS
preflight). A body that is not JSON, or not an object, is a 400; a body its schema refuses is a
422 naming the fields. Views that take `@blp.arguments` reach the same rules through
`BodyParser`; the two busiest routes call `read_body` and `load_body` directly.
"""
import json

from flask import request
from flask_smorest import Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from marshmallow import ValidationError
from marshmallow.utils import missing
from webargs.flaskparser import FlaskParser

NOT_JSON = "The body is not valid JSON."
NOT_OBJECT = "The body must be a JSON object."
MAX_DEPTH = 32  # arrays and objects within each other; no body of this API needs more than 4
NOT_TEXT = "holds a NUL character or a lone surrogate, which no database stores"


def read_body(raw):
    """The decoded JSON of a request body; `missing` for an empty one. A 400 if it is not JSON or
    is nested deeper than MAX_DEPTH; a 422 naming the field if a string in it is not storable text
    (a NUL, or a lone surrogate that no UTF-8 encodes), so nothing of it reaches a database."""
    if not raw:
        return missing
    try:
        body = json.loads(raw)
    except RecursionError:
        abort(400, message=f"The body is nested deeper than {MAX_DEPTH} levels.")
    except (ValueError, UnicodeDecodeError):
        abort(400, message=NOT_JSON)
    # both checks walk the body only when its bytes could hold what they look for (the hot paths never do)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(body) > MAX_DEPTH:
        abort(400, message=f"The body is nested deeper than {MAX_DEPTH} levels.")
    if b"\\u" in raw:
        bad = _unstorable(body)
        if bad is not None:
            abort(422, errors={bad: [NOT_TEXT]})
    return body


def refuse_unstorable_url_values():
    """Before every request: a path value that is not storable text names nothing that exists (404);
    a query value that is not is refused by name (422). Nothing of either reaches a database."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and not storable(value):
            abort(404, message="Nothing exists at this address.")
    for name, value in request.args.items(multi=True):
        if not (storable(name) and storable(value)):
            abort(422, errors={name if storable(name) else "_query": [NOT_TEXT]})


def storable(text):
    """Whether a string can be stored as text: no NUL, and encodable as UTF-8 (no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _depth(value):
    """How many arrays and objects deep a decoded body goes, level by level (no more than MAX_DEPTH + 1):
    a 10,000-item batch costs about 2 ms, a walk per value cost 13."""
    level, current = 0, [value] if type(value) in (dict, list) else []
    while current and level <= MAX_DEPTH:
        level += 1
        current = [child for item in current for child in (item.values() if type(item) is dict else item)
                   if type(child) is dict or type(child) is list]
    return level


def _unstorable(body):
    """The top-level field (or "_schema") whose value, or key, holds a string that is not storable."""
    roots = body.items() if isinstance(body, dict) else [("_schema", body)]
    for name, value in roots:
        stack = [name, value]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                if not storable(item):
                    return name if storable(name) else "_schema"
            elif isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return None


def refuse(messages):
    """Answer a schema's refusal: a 400 when the body is not an object at all, else a 422 by field."""
    if set(messages) == {"_schema"}:
        abort(400, message=NOT_OBJECT, errors=messages)
    abort(422, errors=messages)


def load_body(schema, body):
    """The body loaded by its schema (an empty body loads as `{}`), or the error that refuses it."""
    try:
        return schema.load({} if body is missing else body)
    except ValidationError as e:
        refuse(e.normalized_messages())


class BodyParser(FlaskParser):
    """webargs' parser for `@blp.arguments` bodies, through the same gate as `read_body`/`refuse`."""

    def _raw_load_json(self, req):
        return read_body(req.get_data(cache=True))

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.normalized_messages()
        if "json" in messages:
            refuse(messages["json"])
        super().handle_error(error, req, schema, error_status_code=error_status_code, error_headers=error_headers)


def common_responses(takes_body, authenticated):
    """The answers any operation can give whatever it does, by the component that documents each
    (`JsonApi` registers them, in the one error shape): the database out of reach (503) and a rate
    limit (429), both with Retry-After; with a body, one that is not JSON, nested too deep or not an
    object (400), over the body limit (413) or refused by its schema (422); with an API key, none
    or an unknown one (401)."""
    responses = {429: "TOO_MANY_REQUESTS", 503: "SERVICE_UNAVAILABLE"}
    if takes_body:
        responses.update({400: "BAD_REQUEST", 413: "REQUEST_ENTITY_TOO_LARGE", 422: "UNPROCESSABLE_ENTITY"})
    if authenticated:
        responses[401] = "UNAUTHORIZED"
    return responses


class ApiBlueprint(Blueprint):
    """Blueprint whose body arguments come through BodyParser, and whose every operation documents
    the answers it can give (`common_responses`) beside its own."""

    ARGUMENTS_PARSER = BodyParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_common_responses_doc)

    @staticmethod
    def _prepare_common_responses_doc(doc, doc_info, **kwargs):
        manual = doc_info.get("manual_doc", {})
        takes_body = "requestBody" in doc or "requestBody" in manual  # from @blp.arguments, or stated by hand
        responses = doc.setdefault("responses", {})
        for status, name in common_responses(takes_body, "security" in manual).items():
            responses.setdefault(status, name)  # an operation's own description of a status wins
        return doc

    def error_response(self, status, description):
        """Document an error this operation answers, and why, in the one error shape."""
        return self.alt_response(status, schema=ErrorSchema, description=description)
