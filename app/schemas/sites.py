"""A site's configuration resolved for one visitor (the config API and the inlined widget config)."""
import marshmallow as ma
from marshmallow import fields


class PurposeConfig(ma.Schema):
    slug = fields.String()
    title = fields.String()
    description = fields.String()
    basis = fields.String()
    default = fields.Boolean()
    locked = fields.Boolean()
    consent_mode = fields.List(fields.String())
    cookies = fields.List(fields.String())
    storage = fields.List(fields.String())
    sale_share = fields.Boolean(metadata={"description": "Sale or sharing (an ad_* key): off under GPC"})


class SiteConfigOut(ma.Schema):
    """A site's configuration resolved for the calling visitor."""

    site_key = fields.String()
    endpoint = fields.String()
    regime = fields.String(metadata={"description": "opt_in, opt_out or notice"})
    gpc_policy = fields.String()
    country = fields.String(allow_none=True)
    region = fields.String(allow_none=True, metadata={"description": "ISO 3166-2, e.g. US-CA"})
    language = fields.String()
    dir = fields.String()
    policy = fields.Dict(allow_none=True)
    validity_days = fields.Integer()
    gpc_header = fields.Boolean()
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    purposes = fields.List(fields.Nested(PurposeConfig))
    consent_mode = fields.Dict()
    widget_build = fields.String(metadata={"description": "SHA-256 of the widget this configuration goes with;"
                                                          " the widget sends it with each decision"})
    theme = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "The site's colours (bg, fg, accent, accent-fg as #rrggbb), set by the widget as "
                       "--opsiq-<name>; absent where the site keeps the defaults"})
