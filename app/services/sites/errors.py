"""The error the site services raise; a module of its own because every other one raises it."""
from app.errors import Invalid


class SiteError(Invalid):
    """A site configuration or key operation that cannot be done; the message says why."""
