"""What the overview's figures are: the one home of their definitions.

A decision is one consent record. It counts on its UTC day (`utc_day`), under its country,
region, policy version, regime, method (rules.METHODS) and GPC signal as the record holds them;
it decides each purpose its decision map names, and grants those whose value is true
(`purpose_outcomes`). An opt-in rate is granted / decided: a purpose added to a site later is
not counted against the decisions taken before it existed.

Both ways of counting feed `build_overview` with the same three tallies (`Tally`): the rollups
(app/services/stats/overview.py, from counts kept by app/services/stats/rollup.py) and a scan of
the ledger (app/services/stats/scan.py), which the tests and `flask stats check` hold equal.
"""
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.ledger.rules import METHODS


def utc_day(created_at: dt.datetime) -> dt.date:
    """The UTC day a record counts on (the rollup's SQL takes the same day: tests/api/test_stats.py)."""
    return created_at.astimezone(dt.timezone.utc).date()


def purpose_outcomes(decisions: Mapping[str, bool]) -> list[tuple[str, bool]]:
    """(purpose slug, granted) for each purpose a record's decision map decides."""
    return [(slug, value is True) for slug, value in decisions.items()]


def place_code(code: str | None) -> str | None:
    """A country or region code as the ledger stores it (upper case), for a filter."""
    return code.upper() if code else None


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is no whole (no decisions, no purpose decided)."""
    return part / whole if whole else None


# A cell: (country, region, policy_version, regime, method, gpc); None where the record has no value.
CELL_FIELDS = ("country", "region", "policy_version", "regime", "method", "gpc")
# What a purpose is counted under: (country, region, policy_version, regime, purpose).
PURPOSE_FIELDS = ("country", "region", "policy_version", "regime", "purpose")
# The breakdowns of an overview, and the cell field each groups by.
BREAKDOWNS = {"countries": "country", "regions": "region", "policy_versions": "policy_version", "regimes": "regime"}


class Tally:
    """A period's decisions, counted as an overview reads them: per (day, method, gpc), per cell,
    and per purpose (decided, granted)."""

    def __init__(self) -> None:
        self.days: Counter = Counter()
        self.cells: Counter = Counter()
        self.purposes: defaultdict = defaultdict(lambda: [0, 0])

    def add_day(self, day: dt.date, method: str, gpc: bool, n: int) -> None:
        """Count n decisions of a day, by method and GPC signal."""
        self.days[(day, method, gpc)] += n

    def add_cell(self, cell: tuple, n: int) -> None:
        """Count n decisions of a cell (CELL_FIELDS)."""
        self.cells[cell] += n

    def add_purpose(self, where: tuple, purpose: str, decided: int, granted: int) -> None:
        """Count a purpose decided and granted so many times, where (PURPOSE_FIELDS but the purpose)."""
        counts = self.purposes[(*where, purpose)]
        counts[0] += decided
        counts[1] += granted

    def add_record(self, day: dt.date, cell: tuple, decisions: Mapping[str, bool]) -> None:
        """Count one decision (the ledger scan's way in)."""
        self.add_day(day, cell[4], cell[5], 1)
        self.add_cell(cell, 1)
        for slug, granted in purpose_outcomes(decisions):
            self.add_purpose(cell[:len(PURPOSE_FIELDS) - 1], slug, 1, int(granted))


@dataclass(frozen=True)
class PurposeRate:
    """How often a purpose was decided, and granted, in a group of decisions."""

    purpose: str
    decided: int
    granted: int
    opt_in_rate: float | None  # granted / decided


@dataclass(frozen=True)
class Figures:
    """A group of decisions: all of a period's (the totals), or those of one country, region,
    policy version or regime (`key`; None for records without one, and for the totals)."""

    key: str | None
    decisions: int
    methods: dict[str, int]  # every rules.METHODS entry, zeros included
    method_shares: dict[str, float | None]
    gpc: int  # decisions that carried a Global Privacy Control signal, whatever their method
    gpc_share: float | None
    purposes: tuple[PurposeRate, ...]  # by slug


@dataclass(frozen=True)
class DayFigures:
    """One UTC day of the period (every day is listed, those without decisions too)."""

    day: dt.date
    decisions: int
    methods: dict[str, int]
    gpc: int


@dataclass(frozen=True)
class Overview:
    """A site's decisions over a period (UTC days `start` to `end`, both included), optionally of
    one country or region; complete for every record created up to `as_of` (None: never rolled up)."""

    start: dt.date
    end: dt.date
    country: str | None
    region: str | None
    as_of: dt.datetime | None
    totals: Figures
    days: tuple[DayFigures, ...]
    countries: tuple[Figures, ...]  # each breakdown: most decisions first
    regions: tuple[Figures, ...]  # ISO 3166-2 (`US-CA`); records without a region are in none
    policy_versions: tuple[Figures, ...]
    regimes: tuple[Figures, ...]


class _Group:
    """Running counts of a group of decisions."""

    def __init__(self) -> None:
        self.decisions = 0
        self.gpc = 0
        self.methods: Counter = Counter()
        self.purposes: defaultdict = defaultdict(lambda: [0, 0])

    def count(self, method: str, gpc: bool, n: int) -> None:
        self.decisions += n
        self.methods[method] += n
        self.gpc += n if gpc else 0

    def count_purpose(self, slug: str, decided: int, granted: int) -> None:
        counts = self.purposes[slug]
        counts[0] += decided
        counts[1] += granted

    def figures(self, key: str | None) -> Figures:
        methods = {m: self.methods[m] for m in METHODS}
        rates = tuple(PurposeRate(slug, d, g, share(g, d)) for slug, (d, g) in sorted(self.purposes.items()))
        return Figures(key, self.decisions, methods, {m: share(n, self.decisions) for m, n in methods.items()},
                       self.gpc, share(self.gpc, self.decisions), rates)


def _ranked(groups: Mapping[str | None, _Group]) -> tuple[Figures, ...]:
    order = sorted(groups.items(), key=lambda kv: (-kv[1].decisions, kv[0] is None, kv[0] or ""))
    return tuple(g.figures(key) for key, g in order)


def build_overview(start: dt.date, end: dt.date, country: str | None, region: str | None,
                   as_of: dt.datetime | None, tally: Tally, days: Iterable[dt.date]) -> Overview:
    """The overview of a period from its tally (`days`: every day of the period, in order)."""
    totals = _Group()
    groups = {name: defaultdict(_Group) for name in BREAKDOWNS}
    index = {name: CELL_FIELDS.index(field) for name, field in BREAKDOWNS.items()}

    def groups_of(key: tuple) -> list[_Group]:
        """The totals and each breakdown's group a cell or purpose key is in (a region's only if it has one)."""
        return [totals] + [groups[name][key[i]] for name, i in index.items() if name != "regions" or key[i] is not None]

    for cell, n in tally.cells.items():
        for group in groups_of(cell):
            group.count(cell[4], cell[5], n)
    for key, (decided, granted) in tally.purposes.items():
        for group in groups_of(key):
            group.count_purpose(key[-1], decided, granted)
    per_day = defaultdict(_Group)
    for (day, method, gpc), n in tally.days.items():
        per_day[day].count(method, gpc, n)
    series = tuple(DayFigures(day, g.decisions, {m: g.methods[m] for m in METHODS}, g.gpc)
                   for day in days for g in [per_day.get(day) or _Group()])
    return Overview(start, end, country, region, as_of, totals.figures(None), series,
                    **{name: _ranked(groups[name]) for name in BREAKDOWNS})
