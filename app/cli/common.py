"""What every command group shares: domain errors shown as command errors, and finding sites."""
import click
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import db
from app.models import Site
from app.services import audit
from app.services.sites.administration import require_site


class CommandGroup(AppGroup):
    """A `flask` command group whose commands' domain errors end them with the error's message
    (exit 1), as click does for its own errors: the one place the CLI maps them. What a command
    changes is audited as `cli:<user>@<host>`, one request id per command."""

    def invoke(self, ctx):
        try:
            with audit.acting_as(audit.cli_actor()):
                return super().invoke(ctx)
        except DomainError as e:
            raise click.ClickException(e.message) from None


def fail(message):
    """End the command with this message (exit 1)."""
    raise click.ClickException(message)


def site_or_fail(site_key):
    """The site with this key; ends the command if there is none."""
    return require_site(site_key)


def sites_or_one(site_key):
    """The one site named, or every site when none is."""
    if site_key:
        return [site_or_fail(site_key)]
    return db.session.execute(db.select(Site).order_by(Site.id)).scalars().all()
