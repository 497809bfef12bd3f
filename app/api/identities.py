"""Identities: linking a visitor to a known person, from the server or from the browser."""
from flask import current_app, g, request

from app.api.auth import SECURITY, api_key_required
from app.api.browser import browser_site, cors_headers
from app.api.parsing import ApiBlueprint
from app.schemas.identities import BrowserIdentityIn, IdentityIn, IdentityOut, PersonConsentOut, PersonLookupIn
from app.services.identities import link_from_token, link_identity, person_consent, require_person
from app.services.visitors import require_visitor_secret

blp = ApiBlueprint("identities", __name__, url_prefix="/api/v1", description="Known people and their visitors")


@blp.post("/identities")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(IdentityIn)
@blp.response(201, IdentityOut)
@blp.error_response(409, "That email and that external_id belong to two different people")
def create_identity(data):
    """Link a visitor to the person with this email and/or external id (server to server)."""
    return link_identity(g.site.id, data["visitor_id"], data["email"], data["external_id"], "server")


@blp.post("/identities/browser")
@blp.arguments(BrowserIdentityIn)
@blp.response(201, IdentityOut)
@blp.error_response(401, "The token is not signed with the site's identity secret, has expired, or is another visitor's")
@blp.error_response(403, "Called from an origin the site does not list, or without the visitor's secret")
@blp.error_response(404, "No site has this key")
def create_browser_identity(data):
    """`opsiqConsent.identify(token)`: link with a token the site's server signed; JSON or text/plain."""
    config = current_app.config
    origin = request.headers.get("Origin")
    snap = browser_site(data["site_key"], origin, request.remote_addr)
    require_visitor_secret(snap.id, data["visitor_id"], data["visitor_secret"])
    body = link_from_token(snap.id, data["visitor_id"], data["token"], config["IDENTITY_TOKEN_MAX_AGE"])
    return body, 201, cors_headers(origin)


@blp.post("/identities/consent")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(PersonLookupIn)
@blp.response(200, PersonConsentOut)
@blp.error_response(404, "The site knows no such person")
def get_person_consent(data):
    """A person's current consent: each purpose's latest decision across their linked browsers."""
    person = require_person(g.site.id, data["email"], data["external_id"], data["person_id"])
    return person_consent(g.site_snapshot, person)
