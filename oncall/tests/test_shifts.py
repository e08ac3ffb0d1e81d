"""The shift engine: property tests over random rotations, layers, restrictions, overrides and time zones, and
named tests for the spring-forward and fall-back nights of Europe/London, America/New_York and Australia/Sydney."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.shifts import (
    OverrideSpec,
    Restriction,
    RotationSpec,
    compute,
    layer_shifts,
    local_to_utc,
    parse_restrictions,
    rotation_shifts,
    utc_to_local,
    zone,
)

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute DST change
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "Europe/Dublin",  # negative DST in the tz database
    "Antarctica/Troll",  # a 2-hour DST change
]
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
H = timedelta(hours=1)
D = timedelta(days=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Strategies --------------------------------------------------------------------------------------

users = st.sampled_from(["ann", "bob", "cat", "dan", "eve", "fay"])


@st.composite
def restrictions(draw):
    if draw(st.booleans()):
        return ()
    windows = []
    for _ in range(draw(st.integers(1, 3))):
        days = frozenset(draw(st.lists(st.integers(0, 6), min_size=1, max_size=7)))
        start = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
        end = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
        windows.append(Restriction(days, start, end))
    return tuple(windows)


@st.composite
def rotations(draw, rid: int):
    period = draw(st.sampled_from(["daily", "weekly", "custom"]))
    return RotationSpec(
        id=rid,
        layer=draw(st.integers(1, 3)),
        time_zone=draw(st.sampled_from(ZONES)),
        start_date=date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 330))),
        handoff_time=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))),
        members=tuple(draw(st.lists(users, min_size=1, max_size=5))),
        period=period,
        period_hours=draw(st.integers(1, 240)) if period == "custom" else None,
        ends_on=draw(st.none() | st.dates(date(2026, 2, 1), date(2027, 6, 1))),
        restrictions=draw(restrictions()),
    )


@st.composite
def windows(draw):
    start = utc(2026, 1, 1) + timedelta(minutes=15 * draw(st.integers(0, 4 * 24 * 365)))
    return start, start + timedelta(minutes=15 * draw(st.integers(1, 4 * 24 * 60)))


@st.composite
def schedules(draw):
    rots = [draw(rotations(rid)) for rid in range(1, draw(st.integers(1, 4)) + 1)]
    start, end = draw(windows())
    overrides = []
    for oid in range(1, draw(st.integers(0, 4)) + 1):
        s = start + timedelta(minutes=15 * draw(st.integers(-200, 4 * 24 * 60)))
        overrides.append(
            OverrideSpec(oid, draw(users), s, s + timedelta(minutes=15 * draw(st.integers(1, 400))))
        )
    return rots, overrides, start, end


# --- An independent oracle: who is on call at one instant, the slow way ---------------------------------


def oracle_rotation(rotation: RotationSpec, t: datetime):
    """Who ``rotation`` has on call at ``t``: scan hand-offs one by one from the first, check restrictions
    window by window."""
    tz = zone(rotation.time_zone)
    step = (
        timedelta(hours=rotation.period_hours)
        if rotation.period == "custom"
        else timedelta(days=1 if rotation.period == "daily" else 7)
    )
    origin = datetime.combine(rotation.start_date, rotation.handoff_time)
    if rotation.ends_on is not None and t >= local_to_utc(datetime.combine(rotation.ends_on, time(0)), tz):
        return None
    if t < local_to_utc(origin, tz):
        return None
    k = 0
    # jump close, then walk: hand-offs are wall-clock, so the UTC estimate is off by at most a day
    k = max(0, int((utc_to_local(t, tz) - origin) / step) - 3)
    while local_to_utc(origin + (k + 1) * step, tz) <= t:
        k += 1
    while k > 0 and local_to_utc(origin + k * step, tz) > t:
        k -= 1
    if rotation.restrictions:
        local_day = utc_to_local(t, tz).date()
        inside = False
        for day in (local_day - D, local_day):
            for r in rotation.restrictions:
                if day.weekday() not in r.days:
                    continue
                s = local_to_utc(datetime.combine(day, r.start), tz)
                e = local_to_utc(datetime.combine(day if r.end > r.start else day + D, r.end), tz)
                inside = inside or s <= t < e
        if not inside:
            return None
    return rotation.members[k % len(rotation.members)]


def oracle(rotations_, overrides, t):
    """(who, layer or 'override') at ``t``."""
    for o in sorted(overrides, key=lambda o: -o.id):
        if o.start <= t < o.end:
            return o.user, "override"
    for r in sorted(rotations_, key=lambda r: (-r.layer, r.id)):
        who = oracle_rotation(r, t)
        if who is not None:
            return who, r.layer
    return None, None


def boundaries(timeline):
    points = {timeline.start}
    for sh in timeline.shifts:
        points |= {sh.start, sh.end - timedelta(seconds=1), sh.start + sh.duration / 2}
    for gap in timeline.gaps:
        points |= {gap.start, gap.end - timedelta(seconds=1)}
    return sorted(p for p in points if timeline.start <= p < timeline.end)


def assert_disjoint_sorted(spans):
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start, (a, b)
    for s in spans:
        assert s.start < s.end


# --- Properties ----------------------------------------------------------------------------------------


@PROPERTY
@given(schedules())
def test_final_shifts_and_gaps_tile_the_window_with_one_person_at_a_time(schedule):
    rots, overrides, start, end = schedule
    timeline = compute(rots, overrides, start, end)
    spans = sorted([*timeline.shifts, *timeline.gaps], key=lambda s: s.start)
    assert_disjoint_sorted(spans)
    assert spans[0].start == start and spans[-1].end == end
    for a, b in itertools.pairwise(spans):
        assert a.end == b.start  # no hole: every instant is a shift or a gap
    for a, b in zip(timeline.gaps, timeline.gaps[1:], strict=False):
        assert a.end < b.start  # gaps are maximal


@PROPERTY
@given(schedules())
def test_at_most_one_person_per_layer(schedule):
    rots, _, start, end = schedule
    for shifts in layer_shifts(rots, start, end).values():
        assert_disjoint_sorted(shifts)


@PROPERTY
@given(schedules(), st.data())
def test_final_shifts_agree_with_the_oracle_everywhere_overrides_win_then_higher_layers(schedule, data):
    rots, overrides, start, end = schedule
    timeline = compute(rots, overrides, start, end)
    probes = boundaries(timeline)
    probes += [o.start for o in overrides] + [o.end - timedelta(seconds=1) for o in overrides]
    probes += [start + (end - start) * data.draw(st.floats(0, 0.999)) for _ in range(5)]
    for t in probes:
        if not start <= t < end:
            continue
        shift = timeline.at(t)
        who, layer = oracle(rots, overrides, t)
        assert (shift.user if shift else None) == who, t
        if shift is not None:
            assert ("override" if shift.is_override else shift.layer) == layer, t


@PROPERTY
@given(rotations(1), windows())
def test_a_dst_change_creates_no_gap_or_overlap_and_hand_offs_stay_at_local_time(rotation, window):
    rotation = RotationSpec(**{**rotation.__dict__, "restrictions": (), "ends_on": None})
    start, end = window
    shifts = rotation_shifts(rotation, start, end)
    assert_disjoint_sorted(shifts)
    for a, b in itertools.pairwise(shifts):
        assert a.end == b.start  # contiguous, whatever the clocks did
    tz = zone(rotation.time_zone)
    for sh in shifts[1:]:
        local = utc_to_local(sh.start, tz)
        exists = local_to_utc(datetime.combine(local.date(), rotation.handoff_time), tz)
        if rotation.period != "custom" and utc_to_local(exists, tz).time() == rotation.handoff_time:
            # the hand-off is at the rotation's local time whenever that time exists that day
            assert local.time() == rotation.handoff_time
    if rotation.period in ("daily", "weekly"):
        nominal = timedelta(days=1 if rotation.period == "daily" else 7)
        for sh in shifts[1:-1]:
            assert abs(sh.duration - nominal) <= timedelta(hours=2)  # 23/25 h, 167/169 h, never more


@PROPERTY
@given(st.sampled_from(ZONES), st.integers(0, 366 * 24 * 4))
def test_local_to_utc_is_non_decreasing_and_exact_for_existing_times(name, quarter_hours):
    tz = zone(name)
    naive = datetime(2026, 1, 1) + timedelta(minutes=15 * quarter_hours)
    a, b = local_to_utc(naive, tz), local_to_utc(naive + timedelta(minutes=15), tz)
    assert a <= b
    back = utc_to_local(a, tz)
    assert back >= naive  # a missing time moves forward, never back
    if back != naive:  # in a spring-forward gap: the jump itself
        assert utc_to_local(a - timedelta(seconds=1), tz) < naive


# --- Named DST nights --------------------------------------------------------------------------------


def daily(tz, start_date, at, members=("ann", "bob"), **kw):
    return RotationSpec(1, 1, tz, start_date, at, members, period="daily", **kw)


def weekly(tz, start_date, at, members=("ann", "bob"), **kw):
    return RotationSpec(1, 1, tz, start_date, at, members, period="weekly", **kw)


def spans(shifts):
    return [(sh.user, sh.start, sh.end) for sh in shifts]


# Europe/London: 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT.


def test_london_spring_forward_daily_shift_is_23_hours_hand_offs_stay_at_0900():
    shifts = rotation_shifts(
        daily("Europe/London", date(2026, 3, 27), time(9)), utc(2026, 3, 27), utc(2026, 4, 1)
    )
    assert spans(shifts)[1:4] == [
        ("bob", utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)),  # 09:00 GMT -> 09:00 BST: 23 h
        ("ann", utc(2026, 3, 29, 8), utc(2026, 3, 30, 8)),
        ("bob", utc(2026, 3, 30, 8), utc(2026, 3, 31, 8)),
    ]


def test_london_fall_back_weekly_shift_is_169_hours():
    rotation = weekly("Europe/London", date(2026, 10, 19), time(9))  # Mondays 09:00
    shifts = rotation_shifts(rotation, utc(2026, 10, 19), utc(2026, 11, 3))
    assert spans(shifts)[:2] == [
        ("ann", utc(2026, 10, 19, 8), utc(2026, 10, 26, 9)),  # 09:00 BST -> 09:00 GMT
        ("bob", utc(2026, 10, 26, 9), utc(2026, 11, 2, 9)),
    ]
    assert shifts[0].duration == timedelta(hours=169)


def test_london_spring_forward_weekly_shift_is_167_hours():
    rotation = weekly("Europe/London", date(2026, 3, 23), time(9))
    shifts = rotation_shifts(rotation, utc(2026, 3, 23), utc(2026, 4, 6, 8))
    assert shifts[0].duration == timedelta(hours=167)
    assert shifts[1].duration == timedelta(hours=168)


def test_london_hand_off_in_the_missing_hour_moves_to_the_jump():
    # 01:30 does not exist on 29 March 2026: the hand-off is at 02:00 BST (01:00 UTC), the instant clocks jump.
    shifts = rotation_shifts(
        daily("Europe/London", date(2026, 3, 27), time(1, 30)), utc(2026, 3, 27), utc(2026, 3, 31, 1)
    )
    assert spans(shifts)[1:4] == [
        ("bob", utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1)),  # 23.5 h
        ("ann", utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)),  # 23.5 h, then 01:30 BST again
        ("bob", utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)),
    ]


def test_london_ambiguous_hand_off_on_fall_back_is_the_first_0130():
    shifts = rotation_shifts(
        daily("Europe/London", date(2026, 10, 23), time(1, 30)), utc(2026, 10, 23), utc(2026, 10, 28)
    )
    assert spans(shifts)[1:4] == [
        ("bob", utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30)),  # 01:30 BST, the first 01:30
        ("ann", utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),  # 25 h, to 01:30 GMT
        ("bob", utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)),
    ]


# America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.


def test_new_york_spring_forward_hand_off_at_0230_resolves_to_0300_edt():
    shifts = rotation_shifts(
        daily("America/New_York", date(2026, 3, 6), time(2, 30)), utc(2026, 3, 6), utc(2026, 3, 11)
    )
    assert spans(shifts)[1:4] == [
        ("bob", utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7)),  # 02:30 EST -> 03:00 EDT
        ("ann", utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)),  # -> 02:30 EDT
        ("bob", utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)),
    ]


def test_new_york_fall_back_night_shift_lasts_one_hour_longer():
    # A night layer 20:00-08:00 on the fall-back night runs 13 real hours; the days around it 12.
    rotation = daily(
        "America/New_York",
        date(2026, 10, 1),
        time(20),
        members=("ann",),
        restrictions=parse_restrictions([{"days": list(range(7)), "start": "20:00", "end": "08:00"}]),
    )
    shifts = rotation_shifts(rotation, utc(2026, 10, 30), utc(2026, 11, 4))
    nights = [sh for sh in shifts if sh.duration >= timedelta(hours=12)]
    assert [sh.duration for sh in nights] == [timedelta(hours=h) for h in (12, 12, 13, 12, 12)]
    assert nights[2].start == utc(2026, 11, 1, 0) and nights[2].end == utc(2026, 11, 1, 13)


def test_new_york_fall_back_ambiguous_0130_uses_the_first_occurrence():
    shifts = rotation_shifts(
        daily("America/New_York", date(2026, 10, 30), time(1, 30)), utc(2026, 10, 30), utc(2026, 11, 3)
    )
    assert spans(shifts)[1:3] == [
        ("bob", utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30)),  # 01:30 EDT
        ("ann", utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)),  # 25 h, to 01:30 EST
    ]


# Australia/Sydney: 2026-04-05 03:00 AEDT -> 02:00 AEST (fall back); 2026-10-04 02:00 AEST -> 03:00 AEDT.


def test_sydney_fall_back_weekly_hand_off_stays_at_0900_local():
    rotation = weekly("Australia/Sydney", date(2026, 3, 30), time(9), members=("ann", "bob", "cat"))
    shifts = rotation_shifts(rotation, utc(2026, 3, 29), utc(2026, 4, 20))
    tz = zone("Australia/Sydney")
    assert [utc_to_local(sh.start, tz).time() for sh in shifts] == [time(9)] * len(shifts)
    assert shifts[0].start == utc(2026, 3, 29, 22)  # 09:00 AEDT (UTC+11)
    assert shifts[0].end == utc(2026, 4, 5, 23)  # 09:00 AEST (UTC+10)
    assert shifts[0].duration == timedelta(hours=169)


def test_sydney_spring_forward_hand_off_at_0230_resolves_to_0300_aedt():
    shifts = rotation_shifts(
        daily("Australia/Sydney", date(2026, 10, 2), time(2, 30)), utc(2026, 10, 1), utc(2026, 10, 6)
    )
    tz = zone("Australia/Sydney")
    starts = [utc_to_local(sh.start, tz) for sh in shifts[1:]]
    assert starts[:3] == [
        datetime(2026, 10, 3, 2, 30),
        datetime(2026, 10, 4, 3, 0),
        datetime(2026, 10, 5, 2, 30),
    ]
    assert shifts[2].start == utc(2026, 10, 3, 16)  # 03:00 AEDT
    assert [sh.duration for sh in shifts[1:4]] == [
        timedelta(hours=23, minutes=30),
        timedelta(hours=23, minutes=30),
        D,
    ]


def test_sydney_fall_back_ambiguous_0230_is_the_first_occurrence():
    shifts = rotation_shifts(
        daily("Australia/Sydney", date(2026, 4, 3), time(2, 30)), utc(2026, 4, 2), utc(2026, 4, 7)
    )
    by_start = {sh.start: sh for sh in shifts}
    first = utc(2026, 4, 4, 15, 30)  # 02:30 AEDT (UTC+11), not 02:30 AEST
    assert first in by_start and by_start[first].duration == timedelta(hours=25)


# --- Layers, restrictions, overrides -----------------------------------------------------------------


def test_higher_layer_wins_where_it_has_someone_and_lower_layer_fills_the_rest():
    base = RotationSpec(1, 1, "Europe/London", date(2026, 6, 1), time(9), ("ann",), period="weekly")
    business = RotationSpec(
        2,
        2,
        "Europe/London",
        date(2026, 6, 1),
        time(9),
        ("bob",),
        period="weekly",
        restrictions=parse_restrictions([{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]),
    )
    timeline = compute(
        [base, business], [], utc(2026, 6, 1, 8), utc(2026, 6, 2, 8)
    )  # Monday 09:00 BST + 1 day
    assert spans(timeline.shifts) == [
        ("bob", utc(2026, 6, 1, 8), utc(2026, 6, 1, 16)),
        ("ann", utc(2026, 6, 1, 16), utc(2026, 6, 2, 8)),
    ]
    assert timeline.gaps == []


def test_override_wins_and_gaps_are_reported():
    rotation = RotationSpec(
        1,
        1,
        "UTC",
        date(2026, 6, 1),
        time(0),
        ("ann",),
        period="daily",
        restrictions=parse_restrictions([{"days": list(range(7)), "start": "09:00", "end": "17:00"}]),
    )
    override = OverrideSpec(7, "eve", utc(2026, 6, 1, 12), utc(2026, 6, 1, 20))
    timeline = compute([rotation], [override], utc(2026, 6, 1), utc(2026, 6, 2))
    assert spans(timeline.shifts) == [
        ("ann", utc(2026, 6, 1, 9), utc(2026, 6, 1, 12)),
        ("eve", utc(2026, 6, 1, 12), utc(2026, 6, 1, 20)),
    ]
    assert [(g.start, g.end) for g in timeline.gaps] == [
        (utc(2026, 6, 1), utc(2026, 6, 1, 9)),
        (utc(2026, 6, 1, 20), utc(2026, 6, 2)),
    ]
    assert timeline.shifts[1].is_override


def test_same_person_shifts_merge():
    rotation = RotationSpec(1, 1, "UTC", date(2026, 6, 1), time(0), ("ann",), period="daily")
    timeline = compute([rotation], [], utc(2026, 6, 1), utc(2026, 6, 10))
    assert spans(timeline.shifts) == [("ann", utc(2026, 6, 1), utc(2026, 6, 10))]


def test_ends_on_stops_the_rotation_at_local_midnight():
    rotation = RotationSpec(
        1,
        1,
        "America/New_York",
        date(2026, 6, 1),
        time(9),
        ("ann", "bob"),
        period="daily",
        ends_on=date(2026, 6, 3),
    )
    timeline = compute([rotation], [], utc(2026, 6, 1), utc(2026, 6, 5))
    assert timeline.shifts[-1].end == utc(2026, 6, 3, 4)  # midnight EDT
    assert timeline.gaps[-1].start == utc(2026, 6, 3, 4)


@pytest.mark.parametrize(
    "raw, message",
    [
        ("x", "must be a list"),
        ([{"days": [7], "start": "09:00", "end": "17:00"}], "days"),
        ([{"days": [], "start": "09:00", "end": "17:00"}], "days"),
        ([{"days": [1], "start": "9:00", "end": "17:00"}], "HH:MM"),
        ([{"days": [1], "start": "25:00", "end": "17:00"}], "HH:MM"),
        ([{"days": [1], "start": "09:00"}], "HH:MM"),
        ([{"days": [1], "start": "09:00", "end": "17:00", "x": 1}], "object"),
        ([{"days": [True], "start": "09:00", "end": "17:00"}], "days"),
    ],
)
def test_parse_restrictions_refuses_malformed_windows(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_restrictions(raw)


def test_parse_restrictions_accepts_24_00_as_end_of_day():
    (r,) = parse_restrictions([{"days": [0], "start": "18:00", "end": "24:00"}])
    assert r.end == time(0) and r.days == frozenset({0})


def test_custom_twelve_hour_rotation_keeps_local_hand_offs_across_dst():
    rotation = RotationSpec(1, 1, "Europe/London", date(2026, 3, 27), time(8), ("ann", "bob"), "custom", 12)
    shifts = rotation_shifts(rotation, utc(2026, 3, 28), utc(2026, 3, 31))
    tz = zone("Europe/London")
    assert {utc_to_local(sh.start, tz).time() for sh in shifts[1:]} == {time(8), time(20)}
    assert timedelta(hours=11) in {sh.duration for sh in shifts}
