"""Column types and helpers every table module uses: UTC datetimes, ids, the one clock."""
import datetime as dt
import uuid

import sqlalchemy as sa

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow():
    """Timezone-aware current UTC time (the one clock the models use)."""
    return dt.datetime.now(dt.timezone.utc)


def new_uuid():
    return str(uuid.uuid4())


class UTCDateTime(sa.types.TypeDecorator):
    """Stores aware UTC datetimes; SQLite returns them aware again."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value
