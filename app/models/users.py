"""Dashboard users (operators of the installation, not data subjects), the sites each is granted,
and the installation's own settings (app/services/users/ owns the rules)."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.sites import Site
from app.models.types import UTCDateTime, utcnow

# which sites a user who is not an installation owner may see: one row per grant
user_sites = sa.Table(
    "user_sites", db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class User(db.Model):
    """A person who signs in to the dashboard. The email is an operator's login, kept in clear
    (lower-cased, as keyring.normalise_email does) but never logged: audit entries name users by id.

    `all_sites` marks an installation owner (role `owner`, made without a site): every site, those
    created later too. It is a column rather than "an owner with no grant" so that deleting a
    user's last granted site can never widen what they see. `session_version` is part of every
    session's id (app/admin/session.py): raising it ends every session signed in before."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))  # argon2id, PHC string format
    role: Mapped[str] = mapped_column(sa.String(16))  # app/services/users/roles.py ROLES
    all_sites: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    # TOTP secrets sealed under the master key (app/services/keyring.py seal); pending until a code verifies
    totp_secret: Mapped[str | None] = mapped_column(sa.Text)
    totp_pending: Mapped[str | None] = mapped_column(sa.Text)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)  # the last code's time step: no replay
    session_version: Mapped[int] = mapped_column(default=1)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(secondary=user_sites, order_by=Site.id)

    @property
    def site_ids(self) -> set[int]:
        """The ids of the sites granted (for an installation owner, see all_sites)."""
        return {s.id for s in self.sites}

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None


class InstallationSetting(db.Model):
    """One installation-wide setting by name (`require_second_factor`), its value as JSON."""

    __tablename__ = "installation_settings"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[dict | list | str | int | bool | None] = mapped_column(sa.JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
