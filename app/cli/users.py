"""`flask users`: the dashboard's users (app/services/users/). Passwords are read from standard
input (`--password-stdin`, one line) or asked for without echo, never taken as an argument, which
the shell's history and the process list would keep."""
import json
import sys

import click

from app.cli.common import CommandGroup
from app.services.users import accounts, roles, second_factor, settings

users_cli = CommandGroup("users", help="Dashboard users: create, list, disable, reset passwords, require 2FA.")


def read_password(from_stdin):
    """One line of standard input with --password-stdin; else asked twice, without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.option("--email", required=True, help="The user's email: their sign-in name.")
@click.option("--role", required=True, type=click.Choice(roles.ROLES),
              help="; ".join(f"{r}: {d}" for r, d in roles.ROLE_DESCRIPTIONS.items()) + ".")
@click.option("--site", "site_keys", multiple=True,
              help="A site the user may see (repeat). An owner given none owns the whole installation.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
def create_user_command(email, role, site_keys, password_stdin):
    """Create a dashboard user."""
    user = accounts.create_user(email, role, read_password(password_stdin), site_keys)
    scope = "every site" if user.all_sites else ", ".join(s.site_key for s in user.sites)
    click.echo(f"user {user.id} created: {role} of {scope}")


@users_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_users_command(as_json):
    """List users: id, email, role, sites, second factor, state, last sign-in."""
    rows = [{"id": u.id, "email": u.email, "role": u.role,
             "sites": "all" if u.all_sites else [s.site_key for s in u.sites],
             "second_factor": u.has_second_factor, "disabled": u.disabled,
             "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None}
            for u in accounts.list_users()]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        sites = r["sites"] if r["sites"] == "all" else ",".join(r["sites"])
        click.echo("\t".join([str(r["id"]), r["email"], r["role"], sites, "2fa" if r["second_factor"] else "-",
                              "disabled" if r["disabled"] else "active", r["last_sign_in_at"] or "never"]))


@users_cli.command("disable")
@click.argument("email")
def disable_user_command(email):
    """Disable a user: they cannot sign in, and their sessions end."""
    accounts.set_disabled(accounts.require_user(email), True)
    click.echo("disabled")


@users_cli.command("enable")
@click.argument("email")
def enable_user_command(email):
    """Enable a disabled user again."""
    accounts.set_disabled(accounts.require_user(email), False)
    click.echo("enabled")


@users_cli.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (one line).")
def reset_password_command(email, password_stdin):
    """Set a user's password; every session of theirs ends."""
    user = accounts.require_user(email)
    accounts.reset_password(user, read_password(password_stdin))
    click.echo("password reset; the user's sessions are signed out")


@users_cli.command("reset-2fa")
@click.argument("email")
def reset_second_factor_command(email):
    """Remove a user's second factor (a lost phone); they set up a new one at their next sign-in if required."""
    second_factor.reset(accounts.require_user(email))
    click.echo("second factor removed; the user's sessions are signed out")


@users_cli.command("require-2fa")
@click.argument("state", type=click.Choice(["on", "off"]))
def require_second_factor_command(state):
    """Require a second factor of every user (on), or leave it to each (off)."""
    settings.require_second_factor(state == "on")
    click.echo(f"two-step sign-in is {'required of every user' if state == 'on' else 'left to each user'}")
