"""What a route handler returns: a status, a JSON body and headers, free of any framework.

The two busiest routes have one handler each, called by their Flask view and by the front door
(`app/api/front_door.py`) alike; this is the value both turn into an HTTP response.
"""
import json
from dataclasses import dataclass, field

from flask import Response


@dataclass(slots=True)
class Reply:
    """A JSON answer: `body` is encoded compactly, `headers` are added to Content-Type/Length."""

    status: int
    body: dict
    headers: dict = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


def security_headers(config) -> list[tuple[str, str]]:
    """The headers every answer carries: nosniff, and HSTS when the service runs in production."""
    headers = [("X-Content-Type-Options", "nosniff")]
    if config.get("OPSIQ_ENV") == "production":
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def to_response(reply: Reply) -> Response:
    """The Flask response for a Reply (a view's return value)."""
    return Response(reply.encode(), reply.status, reply.headers, mimetype="application/json")
