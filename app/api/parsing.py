"""The one input gate for JSON bodies: read them, then load them with their schema.

Every body is read whatever its Content-Type (a browser POSTs `text/plain` to avoid a CORS
preflight). A body that is not JSON, or not an object, is a 400; a body its schema refuses is a
422 naming the fields. Views that take `@blp.arguments` reach the same rules through
`BodyParser`; the two busiest routes call `read_body` and `load_body` directly.
"""
import json

from flask_smorest import Blueprint, abort
from marshmallow import ValidationError
from marshmallow.utils import missing
from webargs.flaskparser import FlaskParser

NOT_JSON = "The body is not valid JSON."
NOT_OBJECT = "The body must be a JSON object."


def read_body(raw):
    """The decoded JSON of a request body; `missing` for an empty one; a 400 if it is not JSON."""
    if not raw:
        return missing
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        abort(400, message=NOT_JSON)


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


class ApiBlueprint(Blueprint):
    """Blueprint whose body arguments come through BodyParser."""

    ARGUMENTS_PARSER = BodyParser()
