"""Time helpers. Muster stores UTC and shows UTC on anything customers read."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def utc_iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat()


def format_utc(value: datetime | None) -> str:
    """'2026-11-23 14:05 UTC' — the form used on pages and in messages."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_duration(delta: timedelta | None) -> str:
    """'3d 4h', '2h 5m', '4m 10s'."""
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        seconds = 0
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
