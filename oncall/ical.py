"""iCalendar (RFC 5545) feeds of final shifts, for Google Calendar, Outlook and Apple Calendar to subscribe to.

One VEVENT per final shift, DTSTART/DTEND in UTC, a UID stable for as long as the shift starts at the same
instant (schedule, person and start), and the person in ``X-MUSTER-USER``, so ``parse`` reads the same shifts back.
No ATTENDEE: calendars would show each shift as a meeting invitation to answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import icalendar

PRODID = "-//Muster//On-call schedules//EN"


@dataclass(frozen=True)
class FeedEvent:
    schedule_id: int
    schedule_name: str
    user_id: int
    username: str
    name: str
    email: str
    start: datetime
    end: datetime
    override: bool = False

    @property
    def uid(self) -> str:
        return f"shift-{self.schedule_id}-{self.user_id}-{int(self.start.timestamp())}@muster"


def render(events: Iterable[FeedEvent], *, title: str, now: datetime, per_person: bool) -> bytes:
    """The calendar as bytes. ``per_person``: a person's own feed (the summary names the schedule only)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", title)
    cal.add("x-published-ttl", icalendar.vDuration(timedelta(hours=1)))  # RFC 5545 duration: PT1H
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    stamp = now.astimezone(UTC)
    for e in events:
        ev = icalendar.Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e.start.astimezone(UTC))
        ev.add("dtend", e.end.astimezone(UTC))
        summary = f"On call: {e.schedule_name}" if per_person else f"On call: {e.schedule_name} ({e.name})"
        ev.add("summary", summary)
        ev.add(
            "description",
            f"{e.name} is on call for {e.schedule_name}" + (" (override)." if e.override else "."),
        )
        ev.add("transp", "TRANSPARENT")
        ev.add("x-muster-user", e.username)
        cal.add_component(ev)
    return cal.to_ical()


@dataclass(frozen=True)
class ParsedShift:
    uid: str
    username: str
    start: datetime
    end: datetime
    summary: str


def parse(data: bytes) -> list[ParsedShift]:
    """The shifts of a feed, by start (what a subscribing calendar would show)."""
    cal = icalendar.Calendar.from_ical(data)
    out = []
    for ev in cal.walk("VEVENT"):
        out.append(
            ParsedShift(
                uid=str(ev["uid"]),
                username=str(ev["x-muster-user"]),
                start=ev.decoded("dtstart").astimezone(UTC),
                end=ev.decoded("dtend").astimezone(UTC),
                summary=str(ev["summary"]),
            )
        )
    out.sort(key=lambda s: (s.start, s.username))
    return out
