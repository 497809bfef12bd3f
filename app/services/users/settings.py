"""Installation-wide settings, kept by name in installation_settings; for now one: whether every
user must sign in with a second factor (`flask users require-2fa on|off`)."""
from app.extensions import db
from app.models import InstallationSetting, utcnow
from app.services import audit

SECOND_FACTOR_REQUIRED = "second_factor_required"


def _get(name: str, default=None):
    row = db.session.get(InstallationSetting, name)
    return default if row is None else row.value


def second_factor_required() -> bool:
    """Whether every user must have a second factor (those without one can only set it up)."""
    return bool(_get(SECOND_FACTOR_REQUIRED, False))


def require_second_factor(on: bool) -> None:
    """Make a second factor required for every user (on) or each user's choice (off)."""
    row = db.session.get(InstallationSetting, SECOND_FACTOR_REQUIRED)
    if row is None:
        row = InstallationSetting(name=SECOND_FACTOR_REQUIRED)
        db.session.add(row)
    row.value, row.updated_at = bool(on), utcnow()
    audit.record("installation.updated", audit.Target("installation", None), None,
                 {SECOND_FACTOR_REQUIRED: bool(on)})
    db.session.commit()
