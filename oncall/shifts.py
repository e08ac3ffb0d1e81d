"""The shift engine: final on-call shifts of a schedule, computed in UTC. Pure functions, no database.

A rotation hands over at a local wall-clock time in its own IANA time zone. Hand-off ``k`` is the local time
``start_date + handoff_time + k * period`` (wall-clock arithmetic), converted to UTC only at the end; so a weekly
hand-off at Monday 09:00 Europe/London stays at 09:00 local and the week spanning a daylight-saving change lasts
167 or 169 real hours (a daily shift 23 or 25). Shift ``k`` runs from hand-off ``k`` to hand-off ``k + 1``, so
consecutive shifts always touch: a DST change can neither open a gap nor create an overlap.

Local times that do not exist or exist twice (``local_to_utc``):

* a time in the spring-forward gap (01:30 in London on the last Sunday of March) resolves *forward*, to the
  instant the clocks jump (02:00 BST): the first local time that exists after it;
* an ambiguous time on the fall-back night (01:30 in London on the last Sunday of October) is its first
  occurrence (``fold=0``: 01:30 BST), as RFC 5545 section 3.3.5 reads it.

Both keep the mapping from local to UTC non-decreasing, so hand-offs never run backwards and shifts never overlap,
even for custom rotations shorter than the clock change. A shift that resolves to zero length is dropped.

Layering: ``restrictions`` clip a rotation to local windows (e.g. weekdays 09:00-17:00); within one layer the
rotation with the lowest id wins where two overlap; a higher layer wins where it has someone and lower layers fill
its gaps; overrides sit above every layer (the most recently created wins where overrides overlap). Finally adjacent
segments of the same person from the same layer merge, and the uncovered spans of the window are the gaps.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PERIOD_DAYS = {"daily": 1, "weekly": 7}
# Conversions from local to UTC move a time by at most the largest offset change of any zone (2 h); hand-off
# search windows get this margin on both sides.
_MARGIN = timedelta(hours=26)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- Plain data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restriction:
    """A local window on some weekdays (Monday = 0). ``end <= start`` ends on the next day (22:00-06:00);
    ``start == end`` is the whole day."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class RotationSpec:
    id: int
    layer: int
    time_zone: str
    start_date: date
    handoff_time: time
    members: tuple[Hashable, ...]
    period: str = "weekly"
    period_hours: int | None = None
    ends_on: date | None = None
    restrictions: tuple[Restriction, ...] = ()


@dataclass(frozen=True)
class OverrideSpec:
    id: int
    user: Hashable
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Shift:
    """A span (UTC, half-open) with one person on call. ``layer`` is None for an override."""

    user: Hashable
    start: datetime
    end: datetime
    layer: int | None = None
    rotation_id: int | None = None
    override_id: int | None = None

    @property
    def is_override(self) -> bool:
        return self.override_id is not None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass
class Timeline:
    start: datetime
    end: datetime
    shifts: list[Shift] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def at(self, instant: datetime) -> Shift | None:
        return shift_at(self.shifts, instant)


# --- Local time ------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the local wall-clock time ``naive`` in ``tz`` (see the module docstring for the
    non-existent and ambiguous times). Cached: schedules share hand-off and restriction times."""
    utc = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return utc
    # In a spring-forward gap: fold=0 used the offset before the gap and landed after the jump, fold=1 the offset
    # after it and landed before. The jump is the first instant whose local time is at or after ``naive``.
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo_s, hi_s = int(lo.timestamp()), int(utc.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def utc_to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def period_step(rotation: RotationSpec) -> timedelta:
    """The wall-clock length of one shift."""
    if rotation.period in PERIOD_DAYS:
        return timedelta(days=PERIOD_DAYS[rotation.period])
    if not rotation.period_hours or rotation.period_hours < 1:
        raise ValueError("A custom rotation needs period_hours >= 1.")
    return timedelta(hours=rotation.period_hours)


# --- Intervals -------------------------------------------------------------------------------------

Interval = tuple[datetime, datetime]


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-touching intervals covering the same instants."""
    out: list[list[datetime]] = []
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def subtract(start: datetime, end: datetime, covered: Sequence[Interval]) -> list[Interval]:
    """The parts of [start, end) outside the sorted, disjoint ``covered`` intervals."""
    pieces = []
    i = bisect.bisect_right(covered, (start, start)) - 1
    i = max(i, 0)
    cursor = start
    while i < len(covered) and covered[i][0] < end:
        cs, ce = covered[i]
        if ce > cursor:
            if cs > cursor:
                pieces.append((cursor, cs))
            cursor = max(cursor, ce)
            if cursor >= end:
                return pieces
        i += 1
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def intersect(segments: Sequence[Interval], windows: Sequence[Interval]) -> list[tuple[int, Interval]]:
    """(index of segment, piece) for each overlap of sorted disjoint ``segments`` with sorted disjoint ``windows``."""
    out = []
    j = 0
    for i, (s, e) in enumerate(segments):
        while j < len(windows) and windows[j][1] <= s:
            j += 1
        k = j
        while k < len(windows) and windows[k][0] < e:
            ws, we = windows[k]
            ps, pe = max(s, ws), min(e, we)
            if ps < pe:
                out.append((i, (ps, pe)))
            k += 1
    return out


# --- Rotations -------------------------------------------------------------------------------------


def handoffs(rotation: RotationSpec, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
    """(k, UTC instant) of every hand-off needed to cover [start, end): from the last one at or before ``start``
    to the first one at or after ``end`` (or the rotation's end), non-decreasing."""
    tz = zone(rotation.time_zone)
    step = period_step(rotation)
    origin = datetime.combine(rotation.start_date, rotation.handoff_time)
    local_start = utc_to_local(start - _MARGIN, tz)
    k = max(0, (local_start - origin) // step) if local_start > origin else 0
    stop = None
    if rotation.ends_on is not None:
        stop = local_to_utc(datetime.combine(rotation.ends_on, time(0)), tz)
    out: list[tuple[int, datetime]] = []
    while True:
        instant = local_to_utc(origin + k * step, tz)
        if stop is not None and instant >= stop:
            if out and out[-1][1] < stop:
                out.append((k, stop))
            break
        out.append((k, instant))
        if instant >= end:
            break
        k += 1
    return out


def restriction_windows(
    restrictions: Sequence[Restriction], time_zone: str, start: datetime, end: datetime
) -> list[Interval]:
    """The UTC spans of the local restriction windows overlapping [start, end), merged."""
    tz = zone(time_zone)
    first = utc_to_local(start, tz).date() - timedelta(days=2)
    last = utc_to_local(end, tz).date() + timedelta(days=1)
    spans = []
    day = first
    while day <= last:
        weekday = day.weekday()
        for r in restrictions:
            if weekday not in r.days:
                continue
            s_local = datetime.combine(day, r.start)
            e_local = datetime.combine(day if r.end > r.start else day + timedelta(days=1), r.end)
            s, e = local_to_utc(s_local, tz), local_to_utc(e_local, tz)
            if s < end and e > start:
                spans.append((max(s, start), min(e, end)))
        day += timedelta(days=1)
    return union(spans)


def rotation_shifts(rotation: RotationSpec, start: datetime, end: datetime) -> list[Shift]:
    """The shifts of one rotation within [start, end), clipped to the window and its restrictions."""
    if not rotation.members or end <= start:
        return []
    points = handoffs(rotation, start, end)
    n = len(rotation.members)
    segments: list[Interval] = []
    users = []
    for (k, s), (_, e) in itertools.pairwise(points):
        s, e = max(s, start), min(e, end)
        if s < e:
            segments.append((s, e))
            users.append(rotation.members[k % n])
    if rotation.restrictions:
        windows = restriction_windows(rotation.restrictions, rotation.time_zone, start, end)
        pieces = intersect(segments, windows)
        return [Shift(users[i], s, e, layer=rotation.layer, rotation_id=rotation.id) for i, (s, e) in pieces]
    return [
        Shift(u, s, e, layer=rotation.layer, rotation_id=rotation.id)
        for u, (s, e) in zip(users, segments, strict=True)
    ]


# --- Layers, overrides, the final shifts ------------------------------------------------------------


def _paint(sources: Iterable[list[Shift]]) -> list[Shift]:
    """Shifts from sources in priority order (highest first): each fills only what higher ones left open."""
    covered: list[Interval] = []
    out: list[Shift] = []
    for shifts in sources:
        if not shifts:
            continue
        own = []
        for sh in shifts:
            for s, e in subtract(sh.start, sh.end, covered) if covered else [(sh.start, sh.end)]:
                out.append(
                    Shift(
                        sh.user, s, e, layer=sh.layer, rotation_id=sh.rotation_id, override_id=sh.override_id
                    )
                )
            own.append((sh.start, sh.end))
        covered = union([*covered, *own])
    out.sort(key=lambda sh: sh.start)
    return out


def merge(shifts: Sequence[Shift]) -> list[Shift]:
    """Join touching shifts of the same person from the same layer (overrides count as one layer)."""
    out: list[Shift] = []
    for sh in shifts:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.end == sh.start
            and prev.user == sh.user
            and prev.layer == sh.layer
            and prev.is_override == sh.is_override
        ):
            out[-1] = Shift(
                prev.user,
                prev.start,
                sh.end,
                layer=prev.layer,
                rotation_id=prev.rotation_id,
                override_id=prev.override_id,
            )
        else:
            out.append(sh)
    return out


def _rotation_order(rotations: Iterable[RotationSpec]) -> list[RotationSpec]:
    return sorted(rotations, key=lambda r: (-r.layer, r.id))


def layer_shifts(rotations: Iterable[RotationSpec], start: datetime, end: datetime) -> dict[int, list[Shift]]:
    """Per layer, who is on call in that layer alone (the lowest rotation id wins inside one layer)."""
    by_layer: dict[int, list[list[Shift]]] = {}
    for rotation in _rotation_order(rotations):
        by_layer.setdefault(rotation.layer, []).append(rotation_shifts(rotation, start, end))
    return {layer: merge(_paint(sources)) for layer, sources in by_layer.items()}


def override_shifts(overrides: Iterable[OverrideSpec], start: datetime, end: datetime) -> list[list[Shift]]:
    """Overrides clipped to the window, most recently created first (it wins where overrides overlap)."""
    out = []
    for o in sorted(overrides, key=lambda o: -o.id):
        s, e = max(o.start, start), min(o.end, end)
        if s < e:
            out.append([Shift(o.user, s, e, override_id=o.id)])
    return out


def final_shifts(
    rotations: Iterable[RotationSpec], overrides: Iterable[OverrideSpec], start: datetime, end: datetime
) -> list[Shift]:
    sources = override_shifts(overrides, start, end)
    sources += [rotation_shifts(r, start, end) for r in _rotation_order(rotations)]
    return merge(_paint(sources))


def find_gaps(shifts: Sequence[Shift], start: datetime, end: datetime) -> list[Gap]:
    """The spans of [start, end) nobody covers."""
    covered = union((sh.start, sh.end) for sh in shifts)
    return [Gap(s, e) for s, e in subtract(start, end, covered)]


def compute(
    rotations: Iterable[RotationSpec], overrides: Iterable[OverrideSpec], start: datetime, end: datetime
) -> Timeline:
    """The final shifts and the gaps of [start, end)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes.")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    shifts = final_shifts(list(rotations), list(overrides), start, end)
    return Timeline(start=start, end=end, shifts=shifts, gaps=find_gaps(shifts, start, end))


def shift_at(shifts: Sequence[Shift], instant: datetime) -> Shift | None:
    """The shift of sorted, disjoint ``shifts`` that contains ``instant``."""
    i = bisect.bisect_right([sh.start for sh in shifts], instant) - 1
    if i >= 0 and shifts[i].start <= instant < shifts[i].end:
        return shifts[i]
    return None


# --- Parsing restrictions ----------------------------------------------------------------------------


def parse_clock(value: str) -> time:
    """ "HH:MM" (00:00-23:59, or 24:00 for the end of the day, read as 00:00 of the next) as a time."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise ValueError(f"'{value}' is not a time of day as HH:MM.")
    hh, mm = value[:2], value[3:]
    if not (hh.isdigit() and mm.isdigit()):
        raise ValueError(f"'{value}' is not a time of day as HH:MM.")
    h, m = int(hh), int(mm)
    if (h, m) == (24, 0):
        return time(0)
    if h > 23 or m > 59:
        raise ValueError(f"'{value}' is not a time of day as HH:MM.")
    return time(h, m)


def parse_restrictions(raw) -> tuple[Restriction, ...]:
    """Restrictions from their JSON form ``[{"days": [0, 1], "start": "09:00", "end": "17:00"}, ...]``;
    ValueError with a readable message when malformed."""
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise ValueError("Restrictions must be a list of windows.")
    if len(raw) > 50:
        raise ValueError("At most 50 restriction windows.")
    out = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict) or set(item) - {"days", "start", "end"}:
            raise ValueError(f"Window {i} must be an object with days, start and end.")
        days = item.get("days", list(range(7)))
        if (
            not isinstance(days, list)
            or not days
            or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in days)
        ):
            raise ValueError(f"Window {i}: days must be a non-empty list of 0-6 (Monday = 0).")
        try:
            start, end = parse_clock(item.get("start")), parse_clock(item.get("end"))
        except ValueError as exc:
            raise ValueError(f"Window {i}: {exc}") from None
        out.append(Restriction(frozenset(days), start, end))
    return tuple(out)
