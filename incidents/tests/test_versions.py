"""Versions of an incident: every change bumps it, and a click made on an older state is refused only when what it
acts on changed since (``incidents.versions``)."""

import pytest
from django.urls import reverse

from core.errors import StaleState
from incidents import services
from incidents.models import Incident, RoleAssignment
from tests.factories import MembershipFactory, UserFactory

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def bob(team):
    return MembershipFactory(
        team=team, user=UserFactory(username="okafor", first_name="Bob", last_name="Okafor")
    ).user


def version(incident) -> int:
    return Incident.objects.get(pk=incident.pk).version


def test_declare_is_version_one_and_a_note_does_not_bump(incident, member):
    assert version(incident) == 1
    services.incident_add_note(incident=incident, text="Looking", actor=member)
    assert version(incident) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda i, m, b: services.incident_transition(incident=i, to="investigating", actor=m),
        lambda i, m, b: services.incident_change_severity(incident=i, severity="major", actor=m),
        lambda i, m, b: services.incident_assign_role(incident=i, role="lead", user=b, actor=m),
        lambda i, m, b: services.incident_update(incident=i, title="Another title", actor=m),
        lambda i, m, b: services.incident_post_update(incident=i, text="We are on it", actor=m),
    ],
    ids=["transition", "severity", "assign", "edit", "update"],
)
def test_every_change_kind_bumps_the_version_and_records_it(incident, member, bob, change):
    change(incident, member, bob)
    assert version(incident) == 2
    assert incident.events.order_by("id").last().incident_version == 2


def test_relieve_bumps_the_version(incident, member, bob):
    services.incident_assign_role(incident=incident, role="lead", user=bob, actor=member)
    services.incident_relieve_role(incident=incident, role="lead", actor=member)
    assert version(incident) == 3


def test_take_it_on_a_stale_lead_is_refused_with_who_became_lead(incident, member, bob):
    shown = version(incident)
    services.incident_assign_role(incident=incident, role="lead", user=bob, actor=bob)
    with pytest.raises(StaleState) as caught:
        services.incident_assign_role(
            incident=incident, role="lead", user=member, actor=member, expected_version=shown
        )
    assert caught.value.message.startswith("Bob Okafor became incident lead ")
    assert " s ago" in caught.value.message
    assert caught.value.changes[0]["kind"] == "role_assigned"
    lead = RoleAssignment.objects.get(incident=incident, relieved_at__isnull=True)
    assert lead.user == bob


def test_a_change_of_something_else_does_not_refuse(incident, member, bob):
    shown = version(incident)
    services.incident_assign_role(incident=incident, role="lead", user=bob, actor=bob)
    services.incident_add_note(incident=incident, text="hi", actor=bob)
    services.incident_change_severity(
        incident=incident, severity="major", actor=member, expected_version=shown
    )
    services.incident_transition(incident=incident, to="investigating", actor=member, expected_version=shown)
    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.severity.slug == "major"


def test_stale_transition_after_resolve_does_not_reopen(incident, member):
    shown = version(incident)
    services.incident_transition(incident=incident, to="resolved", actor=member)
    with pytest.raises(StaleState, match="moved it to Resolved"):
        services.incident_transition(
            incident=incident, to="investigating", actor=member, expected_version=shown
        )
    assert Incident.objects.get(pk=incident.pk).status == "resolved"


def test_edit_refused_only_for_the_fields_changed_since(incident, member):
    shown = version(incident)
    services.incident_update(incident=incident, title="Bob's title", actor=member)
    services.incident_update(incident=incident, summary="Mine", actor=member, expected_version=shown)
    with pytest.raises(StaleState, match="changed the title"):
        services.incident_update(incident=incident, title="Old title", actor=member, expected_version=shown)
    assert Incident.objects.get(pk=incident.pk).title == "Bob's title"


def test_web_stale_take_it_is_refused_with_the_message_and_the_current_state(
    member_client, member, incident, bob
):
    shown = version(incident)
    services.incident_assign_role(incident=incident, role="lead", user=bob, actor=bob)
    url = reverse("incidents:assign_role", args=[incident.pk])
    response = member_client.post(url, {"role": "lead", "user": member.pk, "version": shown}, **HX)
    html = response.content.decode()
    assert "Bob Okafor became incident lead" in html
    assert (
        'data-testid="holder-lead"><span class="avatar avatar-sm" aria-hidden="true">BO</span>Bob Okafor'
        in html
    )
    assert f'name="version" value="{version(incident)}"' in html
    assert RoleAssignment.objects.get(incident=incident, relieved_at__isnull=True).user == bob


def test_web_form_without_a_version_is_refused(member_client, incident):
    url = reverse("incidents:transition", args=[incident.pk])
    response = member_client.post(url, {"to": "investigating"}, follow=True)
    assert "This page is out of date" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).status == "triage"


def test_every_action_form_on_the_incident_page_carries_the_version(member_client, incident):
    import re

    html = member_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    forms = re.findall(r"<form\b.*?</form>", html, re.S)
    actions = [f for f in forms if 'method="post"' in f and "/incidents/" in f.split(">", 1)[0]]
    actions = [f for f in actions if "/notes/" not in f.split(">", 1)[0]]  # notes change no state
    assert len(actions) >= 8
    for form in actions:
        assert f'name="version" value="{incident.version}"' in form, form[:200]
