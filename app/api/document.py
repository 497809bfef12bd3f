"""What the OpenAPI document states beyond each field on its own.

A marshmallow schema checks rules across its fields in Python (`@validates_schema`); a client
reading the document cannot see them unless the document states them too. A schema states them
beside the check, as `Meta.openapi` (JSON Schema keywords such as `oneOf`, with branches built by
`schemas.common.given`), and the converter here adds them to the schema's document.
tests/api/test_schemathesis.py holds the two to each other: a body the document allows must not
be refused for a rule it does not state.
"""
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter


class RulesConverter(OpenAPIConverter):
    """apispec's converter, plus each schema's `Meta.openapi`."""

    def schema2jsonschema(self, schema):
        jsonschema = super().schema2jsonschema(schema)
        jsonschema.update(getattr(getattr(schema, "Meta", None), "openapi", {}))
        return jsonschema


class RulesPlugin(MarshmallowPlugin):
    """The marshmallow plugin of the API's document."""

    Converter = RulesConverter
