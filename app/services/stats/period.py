"""The period an overview covers: UTC days, both ends included, at most MAX_DAYS long."""
import datetime as dt
from dataclasses import dataclass

from app.errors import Invalid

MAX_DAYS = 400  # a year and a bit: this year's figures beside last year's month
DEFAULT_DAYS = 30
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """UTC days `start` to `end`, both included."""

    start: dt.date
    end: dt.date

    @property
    def length(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1

    def days(self) -> list[dt.date]:
        """Every day of the period, in order."""
        return [self.start + dt.timedelta(days=i) for i in range(self.length)]

    def bounds(self) -> tuple[dt.datetime, dt.datetime | None]:
        """The instants the period runs from (included) and to (excluded; None after 9999-12-31)."""
        start = dt.datetime.combine(self.start, dt.time.min, dt.timezone.utc)
        after = add_days(self.end, 1)
        return start, dt.datetime.combine(after, dt.time.min, dt.timezone.utc) if after else None

    def spans(self) -> list[tuple[str, dt.date, dt.date]]:
        """(span, first, last) ranges of rollup rows that cover the period exactly once: its whole
        calendar months from the month rows (first and last are month starts), the days before and
        after them from the day rows."""
        first = self.start if self.start.day == 1 else _next_month(self.start)
        after = _next_month(self.end)
        last = self.end.replace(day=1) if after and after - ONE_DAY == self.end else None
        if last is None:  # the period does not end on a month's last day: its last month is partial
            last = _previous_month(self.end.replace(day=1))
        if first is None or last is None or first > last:
            return [("day", self.start, self.end)]
        ranges = []
        if self.start < first:
            ranges.append(("day", self.start, first - ONE_DAY))
        ranges.append(("month", first, last))
        end_of_months = _next_month(last) - ONE_DAY
        if end_of_months < self.end:
            ranges.append(("day", end_of_months + ONE_DAY, self.end))
        return ranges


def add_days(day: dt.date, n: int) -> dt.date | None:
    """`day` moved by `n` days; None beyond the calendar (years 1 to 9999)."""
    try:
        return day + dt.timedelta(days=n)
    except OverflowError:
        return None


def _next_month(day: dt.date) -> dt.date | None:
    """The first day of the month after `day`'s (None past year 9999)."""
    if day.month == 12:
        return dt.date(day.year + 1, 1, 1) if day.year < dt.MAXYEAR else None
    return dt.date(day.year, day.month + 1, 1)


def _previous_month(first: dt.date) -> dt.date | None:
    """The first day of the month before the one starting on `first` (None before year 1)."""
    if first.month == 1:
        return dt.date(first.year - 1, 12, 1) if first.year > dt.MINYEAR else None
    return dt.date(first.year, first.month - 1, 1)


def period(start: dt.date | None, end: dt.date | None, today: dt.date) -> Period:
    """The period from `start` to `end` (UTC days, both included). Without `end`, up to `today`;
    without `start`, the DEFAULT_DAYS days up to the end. Invalid (naming `from` or `to`) when it
    starts after it ends or is longer than MAX_DAYS."""
    end = end or today
    if start is None:
        start = add_days(end, 1 - DEFAULT_DAYS) or dt.date.min
    if start > end:
        raise Invalid(errors={"from": [f"{start.isoformat()} is after `to` ({end.isoformat()})"]})
    span = Period(start, end)
    if span.length > MAX_DAYS:
        raise Invalid(errors={"to": [f"a period is at most {MAX_DAYS} days; this one has {span.length}"]})
    return span
