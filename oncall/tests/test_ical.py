"""iCal feeds: the feed round-trips to the same shifts (property test over random schedules and through HTTP),
secret tokens, 404 for unknown ones, stable UIDs."""

from __future__ import annotations

import random
import re
import string
import unicodedata
from datetime import UTC, date, datetime, time, timedelta

import icalendar
import pytest
from hypothesis import given
from icalendar.parser import unescape_backslash

from oncall import ical, selectors
from oncall.shifts import compute
from oncall.tests.schedule_helpers import make_override, make_rotation, make_schedule
from oncall.tests.test_shifts import PROPERTY, schedules
from tests.factories import UserFactory

NOW = datetime(2026, 3, 25, 12, tzinfo=UTC)


def events_for(shifts, schedule_id=7, schedule_name="Primary"):
    ids = {}
    return [
        ical.FeedEvent(
            schedule_id=schedule_id,
            schedule_name=schedule_name,
            user_id=ids.setdefault(sh.user, len(ids) + 1),
            username=sh.user,
            name=sh.user.title(),
            email=f"{sh.user}@example.com",
            start=sh.start,
            end=sh.end,
            override=sh.is_override,
        )
        for sh in shifts
    ]


@PROPERTY
@given(schedules())
def test_feed_round_trips_to_the_same_shifts(schedule):
    rots, overrides, start, end = schedule
    shifts = compute(rots, overrides, start, end).shifts
    data = ical.render(events_for(shifts), title="On call", now=NOW, per_person=False)
    parsed = ical.parse(data)
    assert [(p.username, p.start, p.end) for p in parsed] == [(s.user, s.start, s.end) for s in shifts]
    assert len({p.uid for p in parsed}) == len(parsed)


def test_feed_is_rfc5545_with_utc_times():
    from oncall.shifts import Shift

    shift = Shift("ann", datetime(2026, 3, 29, 0, tzinfo=UTC), datetime(2026, 3, 29, 8, tzinfo=UTC), layer=1)
    data = ical.render(events_for([shift]), title="On call: Payments", now=NOW, per_person=True)
    text = data.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert "VERSION:2.0" in text and "PRODID:" in text
    assert "DTSTART:20260329T000000Z" in text and "DTEND:20260329T080000Z" in text
    assert "SUMMARY:On call: Primary" in text
    # Outlook reads how often to refresh from X-PUBLISHED-TTL, an RFC 5545 duration; others from REFRESH-INTERVAL.
    assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in text
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
    (event,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert event["uid"] == f"shift-7-1-{int(shift.start.timestamp())}@muster"
    assert "dtstamp" in event


@pytest.fixture
def schedule(team):
    schedule = make_schedule(team, name="Primary", time_zone="Europe/London")
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    make_rotation(
        schedule,
        [ann, ben],
        time_zone="Europe/London",
        period="daily",
        start_date=date(2026, 1, 1),
        handoff_time=time(9),
    )
    make_rotation(
        schedule,
        [UserFactory(username="cat")],
        name="Days",
        layer=2,
        time_zone="America/New_York",
        restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    )
    return schedule


def parsed_response(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return ical.parse(response.content)


@pytest.mark.django_db
def test_schedule_feed_over_http_round_trips_to_the_computed_shifts(client, schedule):
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    make_override(schedule, UserFactory(username="cover"), soon, soon + timedelta(hours=30))
    parsed = parsed_response(client.get(f"/oncall/ical/schedule/{schedule.ical_token}.ics"))
    expected = selectors.schedule_feed_shifts(selectors.schedule_get(pk=schedule.pk))
    assert [(p.username, p.start, p.end) for p in parsed] == [
        (s.user.username, s.start, s.end) for s in expected
    ]
    assert parsed[0].start <= datetime.now(UTC) - timedelta(days=7)
    assert parsed[-1].end >= datetime.now(UTC) + timedelta(days=89)
    assert {"ann", "ben", "cat", "cover"} <= {p.username for p in parsed}
    assert all(p.summary.startswith("On call: Primary") for p in parsed)
    # fetched again, the UIDs are the same
    again = parsed_response(client.get(f"/oncall/ical/schedule/{schedule.ical_token}.ics"))
    assert [p.uid for p in again] == [p.uid for p in parsed]


@pytest.mark.django_db
def test_user_feed_holds_only_that_persons_shifts(client, schedule):
    from oncall import services

    ann = UserFactory(username="ann")
    feed = services.calendar_feed_ensure(user=ann)
    parsed = parsed_response(client.get(f"/oncall/ical/user/{feed.token}.ics"))
    assert parsed and {p.username for p in parsed} == {"ann"}
    assert all(p.summary == "On call: Primary" for p in parsed)
    expected = [us.shift for us in selectors.user_feed_shifts(ann)]
    assert [(p.start, p.end) for p in parsed] == [(s.start, s.end) for s in expected]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/oncall/ical/schedule/nope.ics",
        "/oncall/ical/user/nope.ics",
        "/oncall/ical/user/" + "x" * 300 + ".ics",
    ],
)
def test_unknown_tokens_are_404(client, schedule, path):
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_reset_tokens_stop_the_old_urls(client, schedule, team):
    from oncall import services
    from oncall.tests.schedule_helpers import lead_of

    lead = lead_of(team)
    old = schedule.ical_token
    services.schedule_reset_token(actor=lead, schedule=schedule)
    assert client.get(f"/oncall/ical/schedule/{old}.ics").status_code == 404
    assert client.get(f"/oncall/ical/schedule/{schedule.ical_token}.ics").status_code == 200
    feed = services.calendar_feed_ensure(user=lead)
    old = feed.token
    services.calendar_feed_reset(user=lead)
    assert client.get(f"/oncall/ical/user/{old}.ics").status_code == 404


@pytest.mark.django_db
def test_inactive_users_feed_is_404(client, schedule):
    from oncall import services

    ann = UserFactory(username="ann")
    token = services.calendar_feed_ensure(user=ann).token
    ann.is_active = False
    ann.save()
    assert client.get(f"/oncall/ical/user/{token}.ics").status_code == 404


# --- Text a person wrote: escaped, never a line of its own --------------------------------------------------

#: What a name may hold that a content line must not: line breaks, NUL, other controls, the characters TEXT escapes,
#: a property forged after a line break, folding-sized runs, non-ASCII (accents, CJK, emoji, C1 controls, the
#: Unicode line separator) and a lone surrogate.
TRICKY = [*"\r\n\x00\x0b\t\x1b\x7f\x85,;\\:\"' ", "\r\nX-EVIL:1", "\nBEGIN:VEVENT", "\\n", "é", "中", "😀"]
TRICKY += ["\u2028", "\ud800", "\ufeff"]
PROPERTY_LINE = re.compile(rb"^[A-Za-z0-9-]+[;:]")


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 40)):
        pick = rng.random()
        if pick < 0.4:
            parts.append(rng.choice(TRICKY))
        elif pick < 0.8:
            parts.append(rng.choice(string.ascii_letters + string.digits))
        else:
            parts.append(chr(rng.choice([rng.randint(0xA0, 0xD7FF), rng.randint(0xE000, 0x2FFFF)])))
    return "".join(parts)


def without_controls(value: str) -> str:
    """What a feed shows of ``value``: control characters, lone surrogates and byte order marks removed, nothing
    else changed."""
    return "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cs") and c != "\ufeff")


def assert_only_property_lines(data: bytes) -> None:
    assert data.endswith(b"\r\n")
    for line in data[:-2].split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line, line
        # A line is a property (NAME: or NAME;PARAM=...:) or the folded continuation of one.
        assert PROPERTY_LINE.match(line) or line[:1] in (b" ", b"\t"), line
        assert len(line) <= 75, line


def test_any_text_in_names_parses_back_to_the_same_text():
    rng = random.Random(5545)
    shift_start = datetime(2026, 3, 29, tzinfo=UTC)
    for _ in range(600):
        title, schedule_name, name, username = (random_text(rng) for _ in range(4))
        override = rng.random() < 0.5
        per_person = rng.random() < 0.5
        event = ical.FeedEvent(
            schedule_id=3,
            schedule_name=schedule_name,
            user_id=9,
            username=username,
            name=name,
            email="x@example.com",
            start=shift_start,
            end=shift_start + timedelta(hours=8),
            override=override,
        )
        data = ical.render([event], title=title, now=NOW, per_person=per_person)
        assert_only_property_lines(data)
        cal = icalendar.Calendar.from_ical(data)
        assert unescape_backslash(cal["x-wr-calname"].to_ical().decode()) == without_controls(title)
        (vevent,) = cal.walk("VEVENT")
        summary = f"On call: {schedule_name}" if per_person else f"On call: {schedule_name} ({name})"
        description = f"{name} is on call for {schedule_name}" + (" (override)." if override else ".")
        assert str(vevent["summary"]) == without_controls(summary)
        assert str(vevent["description"]) == without_controls(description)
        (parsed,) = ical.parse(data)
        assert parsed.username == without_controls(username)
        assert parsed.summary == without_controls(summary)
        assert (parsed.start, parsed.end) == (event.start, event.end)


@pytest.mark.django_db
def test_feeds_of_names_with_line_breaks_answer_200_with_only_property_lines(client, team):
    from oncall import services

    team.name = "Pay\rX-INJECTED:team"
    team.save()
    schedule = make_schedule(team, name="Primary\nX-INJECTED:1;\\,")
    ann = UserFactory(username="ann", first_name="Ann\r\nBEGIN:VEVENT", last_name="\x0bLee")
    make_rotation(schedule, [ann], period="daily", start_date=date(2026, 1, 1))

    response = client.get(f"/oncall/ical/schedule/{schedule.ical_token}.ics")
    assert response.status_code == 200
    assert_only_property_lines(response.content)
    assert b"\r\nX-INJECTED" not in response.content and b"\r\nBEGIN:VEVENT:" not in response.content
    cal = icalendar.Calendar.from_ical(response.content)
    calname = unescape_backslash(cal["x-wr-calname"].to_ical().decode())
    assert calname == "On call: PayX-INJECTED:team / PrimaryX-INJECTED:1;\\,"
    assert {p.summary for p in ical.parse(response.content)} == {
        "On call: PrimaryX-INJECTED:1;\\, (AnnBEGIN:VEVENT Lee)"
    }

    feed = services.calendar_feed_ensure(user=ann)
    response = client.get(f"/oncall/ical/user/{feed.token}.ics")
    assert response.status_code == 200
    assert_only_property_lines(response.content)
    calname = unescape_backslash(
        icalendar.Calendar.from_ical(response.content)["x-wr-calname"].to_ical().decode()
    )
    assert calname == "On call: AnnBEGIN:VEVENT Lee"
