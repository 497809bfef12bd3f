"""A small client for the OpsIQ Consent server API (standard library only).

    from opsiq_client.client import ConsentClient

    consent = ConsentClient("https://consent.example.com", "opsiq_sk_...")
    if consent.may_email("jane@example.com"):
        send_newsletter("jane@example.com")
    consent.check(visitor_id="v-123", purpose="analytics")["allowed"]
"""
import json
import urllib.error
import urllib.request


class ConsentAPIError(RuntimeError):
    """The server answered an error; `status` and `body` (the JSON error document) say which."""

    def __init__(self, status, body):
        super().__init__(f"{status}: {body.get('message') if isinstance(body, dict) else body}")
        self.status = status
        self.body = body


class ConsentClient:
    """Calls the server API with a site's secret API key; every method answers plain dicts."""

    def __init__(self, base_url, api_key, timeout=10):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def _post(self, path, body):
        req = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json",
                     "Accept": "application/json", "User-Agent": "opsiq-client/0.1"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                detail = json.loads(raw)
            except ValueError:
                detail = raw.decode(errors="replace")
            raise ConsentAPIError(e.code, detail) from None

    def check(self, visitor_id=None, purpose=None, email=None):
        """The answer for one visitor and purpose (or one email address for `email_marketing`)."""
        if email is not None:
            return self._post("/api/v1/consent-checks", {"email": email, "purpose": purpose or "email_marketing"})
        return self._post("/api/v1/consent-checks", {"visitor_id": visitor_id, "purpose": purpose})

    def may_email(self, address):
        """True only if this address gave email marketing consent that still stands (default deny)."""
        return bool(self.check(email=address, purpose="email_marketing")["allowed"])

    def check_many(self, items=None, emails=None, purpose=None):
        """Many answers in one call (up to 10,000), in order.

        `items`: [{"visitor_id", "purpose"} or {"email", "purpose"}]; or `emails` (a list of
        addresses) for `email_marketing`; or visitor ids in `items` with one `purpose` for all.
        """
        if emails is not None:
            items = [{"email": e, "purpose": "email_marketing"} for e in emails]
        elif purpose is not None:
            items = [{"visitor_id": v, "purpose": purpose} for v in items]
        return self._post("/api/v1/consent-checks/batch", {"items": list(items)})["results"]
