"""Paged for a private incident makes a participant: what the person was sent and what they may see agree.

The rule (README, "Security model"): a page names the incident, its title and a link, because the person paged
must act on it at 3 a.m.; so being paged for a private incident brings the person in as a participant, recorded
on the timeline, and the incident, the page and "My pages" are visible to them. Nobody else learns anything.
"""

import pytest
from django.urls import reverse

from conftest import token_client
from incidents import permissions
from incidents import services as incident_services
from incidents.models import Participant, TimelineEvent
from notifications.models import Message
from oncall.models import Rotation, RotationMember, Schedule
from paging import services
from teams.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def security():
    team = TeamFactory(name="Security", slug="security")
    lead = MembershipFactory(team=team, user=UserFactory(username="sam"), role=Membership.Role.LEAD).user
    return team, lead


@pytest.fixture
def outsider():
    """On call for a team of their own, not a member of Security."""
    return UserFactory(username="olga", email="olga@example.com")


@pytest.fixture
def secret(security):
    team, lead = security
    return incident_services.incident_declare(
        title="Leaked signing key", severity="critical", actor=lead, team=team, private=True
    )


def test_a_person_paged_for_a_private_incident_becomes_a_participant(secret, security, outsider):
    _, lead = security
    assert not permissions.can_view(outsider, secret)
    page = services.page_create(incident=secret, user=outsider, actor=lead)
    assert permissions.can_view(outsider, secret)
    assert Participant.objects.filter(incident=secret, user=outsider, reason="paged").exists()
    event = TimelineEvent.objects.get(incident=secret, kind="participants_added")
    assert event.data == {"users": ["olga"], "reason": "paged"}
    client = token_client(outsider)
    assert client.get(f"/api/v1/incidents/{secret.pk}/").status_code == 200
    assert client.get(f"/api/v1/pages/{page.pk}/").status_code == 200


def test_my_pages_shows_the_title_to_the_person_paged(secret, security, outsider, client):
    _, lead = security
    services.page_create(incident=secret, user=outsider, actor=lead)
    client.force_login(outsider)
    assert "Leaked signing key" in client.get(reverse("paging:pages")).content.decode()


def test_the_on_call_of_a_schedule_is_brought_in_by_the_step_that_reaches_them(secret, security, outsider):
    team, lead = security
    schedule = Schedule.objects.create(team=team, name="Primary", slug="primary")
    rotation = Rotation.objects.create(
        schedule=schedule, name="Weekly", start_date="2024-01-01", handoff_time="09:00"
    )
    RotationMember.objects.create(rotation=rotation, user=outsider, position=0)
    services.escalation_policy_create(
        team=team, name="Default", actor=lead, repeat=0, is_default=True,
        steps=[{"target": "schedule", "schedule": "primary", "wait_minutes": 5}],
    )  # fmt: skip
    services.page_create(incident=secret, team=team, actor=lead)
    assert permissions.can_view(outsider, secret)


def test_nobody_else_learns_anything(secret, security, outsider):
    _, lead = security
    bystander = UserFactory(username="bea")
    services.page_create(incident=secret, user=outsider, actor=lead)
    assert not permissions.can_view(bystander, secret)
    assert token_client(bystander).get(f"/api/v1/incidents/{secret.pk}/").status_code == 404
    for message in Message.objects.filter(incident=secret):
        assert message.target != bystander.email


def test_team_members_are_not_recorded_twice(secret, security):
    team, lead = security
    member = MembershipFactory(team=team, user=UserFactory(username="tom")).user
    services.page_create(incident=secret, user=member, actor=lead)
    assert not Participant.objects.filter(incident=secret).exists()
    assert not TimelineEvent.objects.filter(incident=secret, kind="participants_added").exists()


def test_a_public_incident_brings_nobody_in(security, outsider):
    team, lead = security
    public = incident_services.incident_declare(title="Slow search", severity="major", actor=lead, team=team)
    services.page_create(incident=public, user=outsider, actor=lead)
    assert not Participant.objects.exists()


def test_the_incident_page_shows_the_participant_event(secret, security, outsider, client):
    _, lead = security
    services.page_create(incident=secret, user=outsider, actor=lead)
    client.force_login(outsider)
    page = client.get(f"/incidents/{secret.pk}/")
    assert page.status_code == 200
    assert "paged for this private incident" in page.content.decode()
