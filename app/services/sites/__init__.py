"""Sites, one module per concern; import each name from the module that owns it.

- `administration`: creating a site, finding it, the origins allowed to call the browser API
- `keys`: secret API keys and receipt-signing secrets
- `policies`: publishing policy versions, with the hash of what a visitor is shown
- `documents`: a site's whole configuration as one document (export, validate, import)
- `snapshot`: the plain, cached `SiteSnapshot` that the request paths read
- `resolution`: a snapshot resolved for one visitor (language, texts, regime, purposes)
- `errors`: `SiteError`, raised by all of them
"""
