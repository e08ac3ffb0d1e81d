"""The "customer update overdue (42 min)" hint in the incident header (``notifications.hints``): the reminders'
cadence, said with the age and a link to the update form, and only where customer updates apply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import selectors, services
from incidents.models import Incident, Severity, TimelineEvent
from notifications import reminders
from notifications.hints import CODE, update_overdue_hints
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def declare(member, team, *, severity="major", customer_impact=True, minutes_ago=0):
    incident = services.incident_declare(
        title="Checkout is down",
        severity=severity,
        actor=member,
        team=team,
        customer_impact=customer_impact,
        lead=member,
    )
    if minutes_ago:
        Incident.objects.filter(pk=incident.pk).update(
            declared_at=timezone.now() - timedelta(minutes=minutes_ago, seconds=5)
        )
    return incident


def interval(slug="major") -> int:
    return Severity.objects.get(slug=slug).update_interval_minutes


def hint_of(incident, user):
    found = update_overdue_hints(selectors.incident_get(user=user, pk=incident.pk), user)
    assert len(found) <= 1
    return found[0] if found else None


def test_overdue_after_one_interval_without_an_update_says_how_long(member, team):
    every = interval()
    assert hint_of(declare(member, team, minutes_ago=every - 1), member) is None
    incident = declare(member, team, minutes_ago=every + 12)
    hint = hint_of(incident, member)
    assert hint.code == CODE and hint.level == "warn"
    assert hint.title == f"Customer update overdue ({every + 12} min)"
    assert f"No customer update since it was declared {every + 12} min ago" in hint.text
    assert f"update every {every} min" in hint.text
    (action,) = hint.actions
    assert action.url == f"/incidents/{incident.pk}/?compose=update#update-form"


def test_an_update_restarts_the_cadence_and_the_age_counts_from_it(member, team):
    every = interval()
    incident = declare(member, team, minutes_ago=every * 3)
    update = services.incident_post_update(incident=incident, text="Still on it", actor=member)
    assert hint_of(incident, member) is None
    TimelineEvent.objects.filter(pk=update.pk).update(
        occurred_at=timezone.now() - timedelta(minutes=every + 2)
    )
    hint = hint_of(incident, member)
    assert hint.title == f"Customer update overdue ({every + 2} min)"
    assert f"The last customer update was {every + 2} min ago" in hint.text


def test_two_intervals_overdue_is_a_danger(member, team):
    hint = hint_of(declare(member, team, minutes_ago=interval() * 2 + 1), member)
    assert hint.level == "danger"


def test_no_hint_where_customer_updates_do_not_apply(member, team, django_assert_num_queries):
    every = interval()
    no_impact = declare(member, team, customer_impact=False, minutes_ago=every * 3)
    resolved = declare(member, team, minutes_ago=every * 3)
    services.incident_transition(incident=resolved, to="resolved", actor=member)
    recent = declare(member, team, minutes_ago=every - 1)
    for incident in (no_impact, resolved, recent):
        fresh = selectors.incident_get(user=member, pk=incident.pk)
        with django_assert_num_queries(0):
            assert update_overdue_hints(fresh, member) == []
    Severity.objects.filter(slug="major").update(update_interval_minutes=0)
    assert hint_of(declare(member, team, minutes_ago=every * 3), member) is None


def test_the_hint_and_the_reminder_agree(member, team):
    """The same rule: overdue in the header exactly when the reminder is due."""
    every = interval()
    for minutes in (every - 1, every + 1):
        incident = declare(member, team, minutes_ago=minutes)
        due = [
            d for d in reminders.reminders_due() if d.incident_id == incident.pk and d.kind == "update-due"
        ]
        assert bool(due) == (hint_of(incident, member) is not None)


def test_someone_who_cannot_act_gets_no_link(member, team):
    incident = declare(member, team, minutes_ago=interval() + 1)
    outsider = UserFactory(username="olga")
    assert hint_of(incident, outsider).actions == ()


def test_the_header_shows_it_and_the_link_opens_the_update_form(client, member, team):
    incident = declare(member, team, minutes_ago=interval() + 5)
    client.force_login(member)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert f'data-testid="hint-{CODE}"' in html and "Customer update overdue" in html
    assert 'id="tab-update" class="tab-radio" checked' not in html
    html = client.get(incident.get_absolute_url() + "?compose=update").content.decode()
    assert 'id="tab-update" class="tab-radio" checked' in html
