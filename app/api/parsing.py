"""Request parsing shared by the API blueprints."""
import json

from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, abort


class BodyParser(FlaskParser):
    """Reads a JSON body whatever its Content-Type, so a browser can POST text/plain without a
    CORS preflight; an unreadable body is a 400."""

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        if not data:
            return ma_missing()
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            abort(400, message="The body is not valid JSON.")

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        # a JSON body that is not an object (a list, a string) is a 400 too: nothing to name
        messages = error.normalized_messages()
        if set(messages.get("json", {})) == {"_schema"}:
            abort(400, message="The body must be a JSON object.", errors=messages["json"])
        super().handle_error(error, req, schema, error_status_code=error_status_code, error_headers=error_headers)


def ma_missing():
    from marshmallow.utils import missing

    return missing


class ApiBlueprint(Blueprint):
    """Blueprint whose body arguments come through BodyParser."""

    ARGUMENTS_PARSER = BodyParser()
