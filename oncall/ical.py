"""iCalendar (RFC 5545) feeds of final shifts, for Google Calendar, Outlook and Apple Calendar to subscribe to.

One VEVENT per final shift, DTSTART/DTEND in UTC, a UID stable for as long as the shift starts at the same
instant (schedule, person and start), and the person in ``X-MUSTER-USER``, so ``parse`` reads the same shifts back.
No ATTENDEE: calendars would show each shift as a meeting invitation to answer.

Every property made of text a person wrote (schedule, team and people's names) goes through ``text``: control
characters (line breaks included) are removed and the rest is written with RFC 5545 TEXT escaping (backslash,
semicolon and comma escaped), so no name can end a content line, forge a property or make the feed fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import icalendar
from icalendar.parser import unescape_backslash

#: What cannot be in a content line's text: C0 and C1 controls and DEL (RFC 5545 3.3.11: TEXT has no CTL but HTAB,
#: and a line break is written as the escape ``\n``, which no name needs), lone surrogates, which UTF-8 cannot
#: encode, and the byte order mark, which parsers drop at the start of a value.
_NOT_TEXT = dict.fromkeys([*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000), 0xFEFF])


def clean(value: str) -> str:
    return str(value).translate(_NOT_TEXT)


class Text(icalendar.vText):
    """A TEXT value written by RFC 5545 3.3.11 alone: ``\\``, ``;`` and ``,`` escaped with a backslash. (icalendar's
    own escaping also turns a backslash followed by ``N`` into a line break, so such a name would not read back.)"""

    def to_ical(self) -> bytes:
        escaped = str(self).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return escaped.encode(self.encoding)


def text(value: str) -> Text:
    """A TEXT value for a property, whatever ``value`` holds (control characters removed)."""
    return Text(clean(value))


def _decoded(value) -> str:
    """A property's text as written by ``text``: X- properties are parsed back as raw text, so unescape them."""
    if isinstance(value, icalendar.vText):
        return str(value)
    raw = value.to_ical() if hasattr(value, "to_ical") else value
    return unescape_backslash(raw.decode() if isinstance(raw, bytes) else str(raw))


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
    cal.add("x-wr-calname", text(title))
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
        ev.add("summary", text(summary))
        ev.add(
            "description",
            text(f"{e.name} is on call for {e.schedule_name}" + (" (override)." if e.override else ".")),
        )
        ev.add("transp", "TRANSPARENT")
        ev.add("x-muster-user", text(e.username))
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
                username=_decoded(ev["x-muster-user"]),
                start=ev.decoded("dtstart").astimezone(UTC),
                end=ev.decoded("dtend").astimezone(UTC),
                summary=_decoded(ev["summary"]),
            )
        )
    out.sort(key=lambda s: (s.start, s.username))
    return out
