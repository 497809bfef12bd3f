"""Identities: linking a visitor to a known person, from the server or from the browser."""
from flask import current_app, g
from flask_smorest import abort

from app.api.auth import api_key_required
from app.api.browser import check_origin, load_site
from app.api.parsing import ApiBlueprint
from app.schemas.identities import BrowserIdentityIn, IdentityIn, IdentityOut, PersonConsentOut, PersonLookupIn
from app.services.identities import IdentityError, find_person, link_identity, person_consent, read_token

blp = ApiBlueprint("identities", __name__, url_prefix="/api/v1", description="Known people and their visitors")


def _link(site_id, visitor_id, email, external_id, method):
    try:
        return link_identity(site_id, visitor_id, email, external_id, method)
    except IdentityError as e:
        abort(e.status, message=str(e), errors=e.errors)


@blp.post("/identities")
@blp.doc(security=[{"ApiKey": []}])
@api_key_required
@blp.arguments(IdentityIn)
@blp.response(201, IdentityOut)
def create_identity(data):
    """Link a visitor to the person with this email and/or external id (server to server)."""
    return _link(g.site.id, data["visitor_id"], data["email"], data["external_id"], "server")


@blp.post("/identities/browser")
@blp.arguments(BrowserIdentityIn)
@blp.response(201, IdentityOut)
def create_browser_identity(data):
    """`opsiqConsent.identify(token)`: link with a token the site's server signed; JSON or text/plain."""
    snap = load_site(data["site_key"])
    origin = check_origin(snap)
    try:
        claims = read_token(snap.id, data["token"], current_app.config["IDENTITY_TOKEN_MAX_AGE"])
    except IdentityError as e:
        abort(e.status, message=str(e))
    if claims.get("visitor_id") and claims["visitor_id"] != data["visitor_id"]:
        abort(401, message="The identity token was minted for another visitor.")
    body = _link(snap.id, data["visitor_id"], claims.get("email"), claims.get("external_id"), "browser")
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}
    return body, 201, headers


@blp.post("/identities/consent")
@blp.doc(security=[{"ApiKey": []}])
@api_key_required
@blp.arguments(PersonLookupIn)
@blp.response(200, PersonConsentOut)
def get_person_consent(data):
    """A person's current consent: each purpose's latest decision across their linked browsers."""
    person = find_person(g.site.id, data["email"], data["external_id"], data["person_id"])
    if person is None:
        abort(404, message="No such person on this site.")
    return person_consent(g.site_snapshot, person)
