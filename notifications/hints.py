"""The notifications app's hint in the incident header (``incidents.hints``): the customer update is overdue.

The cadence is the reminders' (``notifications.reminders``): an open incident with customer impact updates its
customers every ``update_interval_minutes`` of its severity, counted from the last stakeholder update
(``update_posted``) or, before the first, from the declaration. The header says so from the first missed interval,
with the age ("Customer update overdue (42 min)") and a link to the update form; past two intervals it is a danger.

Cost: no query where the cadence does not apply (no customer impact, not open) or cannot be missed yet (declared
less than an interval ago), else one (the last update's time).
"""

from __future__ import annotations

from django.utils import timezone

from incidents.hints import Hint, HintAction, ago, can_act
from incidents.models import EventKind, TimelineEvent
from notifications.reminders import update_interval, update_windows

CODE = "notifications.update-overdue"


def update_overdue_hints(incident, user) -> list[Hint]:
    interval = update_interval(incident)
    if not interval:
        return []
    now = timezone.now()
    if update_windows(since=incident.declared_at, interval=interval, now=now) < 1:
        return []  # declared less than an interval ago: nothing can be overdue yet (and no query to say so)
    last = (
        TimelineEvent.objects.filter(incident_id=incident.pk, kind=EventKind.UPDATE_POSTED)
        .order_by("-occurred_at", "-id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    since = last or incident.declared_at
    windows = update_windows(since=since, interval=interval, now=now)
    if windows < 1:
        return []
    age = ago(since)
    if last:
        situation = f"The last customer update was {age} ago"
    else:
        situation = f"No customer update since it was declared {age} ago"
    action = HintAction(
        label="Post an update",
        url=f"{incident.get_absolute_url()}?compose=update#update-form",
        testid="hint-post-update",
    )
    return [
        Hint(
            level="danger" if windows >= 2 else "warn",
            code=CODE,
            title=f"Customer update overdue ({age})",
            text=f"{situation}; {incident.severity.name.lower()} incidents with customer impact update every "
            f"{interval} min.",
            actions=(action,) if can_act(incident, user) else (),
        )
    ]
