"""`flask geoip`: the GeoIP database in use."""
import click

from app.cli.common import CommandGroup
from app.extensions import geo

geoip_cli = CommandGroup("geoip", help="The GeoIP database in use.")


@geoip_cli.command("info")
def geoip_info_command():
    """Print the GeoIP database type and build date."""
    for k, v in geo.info().items():
        click.echo(f"{k}: {v}")
