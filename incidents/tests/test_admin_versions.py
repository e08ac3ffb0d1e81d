"""The incident admin refuses a stale save or action: the change form and the actions' confirmation page carry the
version they were rendered with, and a change since of what they change is refused with who made it (a message,
never a 500), leaving the incident as it was."""

import re

import pytest

from incidents import services
from incidents.models import EventKind, Incident, RoleAssignment, TimelineEvent
from incidents.tests.test_admin import CHANGELIST, action, change_form_data, change_url, messages_of
from tests.factories import MembershipFactory, UserFactory, severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def okafor(team):
    return MembershipFactory(
        team=team, user=UserFactory(username="okafor", first_name="Bob", last_name="Okafor")
    ).user


def version(incident) -> int:
    return Incident.objects.get(pk=incident.pk).version


def hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the page"
    return match.group(1)


def test_the_change_form_carries_the_version_it_shows(admin_client, incident, member):
    services.incident_transition(incident=incident, to="investigating", actor=member)
    html = admin_client.get(change_url(incident)).content.decode()
    assert hidden(html, "shown_version") == "2"


def test_a_read_only_change_page_carries_no_version(client, incident, db):
    from incidents.tests.test_admin import login, make_staff

    html = login(client, make_staff("sam")).get(change_url(incident)).content.decode()
    assert "shown_version" not in html and "Shown version" not in html


def test_a_stale_change_form_save_is_refused_with_who_changed_it_and_changes_nothing(
    admin_client, incident, okafor
):
    shown = hidden(admin_client.get(change_url(incident)).content.decode(), "shown_version")
    data = change_form_data(admin_client, incident, title="Mine", shown_version=shown)
    services.incident_update(incident=incident, title="Checkout is slow", actor=okafor)
    events = TimelineEvent.objects.filter(incident=incident).count()

    response = admin_client.post(change_url(incident), data)

    assert response.status_code == 200  # the form again, not a 500 and not a redirect as if saved
    errors = [text for level, text in messages_of(response) if level == "error"]
    assert len(errors) == 1 and errors[0].startswith("Bob Okafor changed the title ")
    assert "Bob Okafor changed the title" in str(response.context["adminform"].form.non_field_errors())
    incident.refresh_from_db()
    assert incident.title == "Checkout is slow"
    assert TimelineEvent.objects.filter(incident=incident).count() == events
    # Shown again with the user's input and the current version: saving again is a choice made knowing.
    html = response.content.decode()
    assert 'value="Mine"' in html
    current = hidden(html, "shown_version")
    assert current == str(version(incident))
    again = admin_client.post(change_url(incident), {**data, "shown_version": current})
    assert again.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Mine"


def test_a_change_of_another_field_since_does_not_refuse_the_save(admin_client, incident, okafor):
    shown = hidden(admin_client.get(change_url(incident)).content.decode(), "shown_version")
    data = change_form_data(admin_client, incident, summary="Card payments fail", shown_version=shown)
    services.incident_transition(incident=incident, to="investigating", actor=okafor)
    response = admin_client.post(change_url(incident), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.summary == "Card payments fail" and incident.status == "investigating"


def test_a_malformed_shown_version_is_an_error_on_the_form_not_a_500(admin_client, incident):
    data = change_form_data(admin_client, incident, title="Mine", shown_version="abc")
    response = admin_client.post(change_url(incident), data)
    assert response.status_code == 200
    assert any(level == "error" for level, _ in messages_of(response))
    incident.refresh_from_db()
    assert incident.title == "Checkout is down"


def test_the_confirmation_page_carries_each_incidents_version(admin_client, incident, member, team):
    other = services.incident_declare(title="B", severity="major", actor=member, team=team)
    services.incident_transition(incident=other, to="investigating", actor=member)
    html = action(admin_client, "transition_status", [incident, other]).content.decode()
    assert hidden(html, f"version_{incident.pk}") == "1"
    assert hidden(html, f"version_{other.pk}") == "2"


# name -> (form fields, what makes the shown state stale, what the refusal says)
STALE_ACTIONS = {
    "assign_lead": (
        lambda carol: {"user": carol.pk},
        lambda i, other: services.incident_assign_role(incident=i, role="lead", user=other, actor=other),
        "Bob Okafor became incident lead ",
    ),
    "change_severity": (
        lambda carol: {"severity": severity("minor").pk, "reason": ""},
        lambda i, other: services.incident_change_severity(incident=i, severity="major", actor=other),
        "Bob Okafor changed the severity to major ",
    ),
    "transition_status": (
        lambda carol: {"to": "investigating", "reason": ""},
        lambda i, other: services.incident_transition(incident=i, to="declined", actor=other),
        "Bob Okafor moved it to Declined ",
    ),
}


@pytest.mark.parametrize("name", list(STALE_ACTIONS))
def test_a_stale_admin_action_is_refused_per_incident_and_the_fresh_one_applies(
    admin_client, incident, member, team, okafor, name
):
    form, make_stale, says = STALE_ACTIONS[name]
    carol = MembershipFactory(team=team, user=UserFactory(username="carol")).user
    fresh = services.incident_declare(title="Fresh", severity="critical", actor=member, team=team)
    page = action(admin_client, name, [incident, fresh]).content.decode()
    shown = {i.pk: hidden(page, f"version_{i.pk}") for i in (incident, fresh)}
    make_stale(incident, okafor)
    stale_version = version(incident)
    stale_events = TimelineEvent.objects.filter(incident=incident).count()

    response = admin_client.post(
        CHANGELIST,
        {
            "action": name,
            "_selected_action": [incident.pk, fresh.pk],
            "apply": "1",
            **{f"version_{pk}": v for pk, v in shown.items()},
            **form(carol),
        },
    )

    assert response.status_code == 302
    msgs = messages_of(response)
    errors = [text for level, text in msgs if level == "error"]
    assert len(errors) == 1 and errors[0].startswith(f"{incident.reference}: {says}"), msgs
    assert any(level == "success" and fresh.reference in text for level, text in msgs)
    assert version(incident) == stale_version
    assert TimelineEvent.objects.filter(incident=incident).count() == stale_events
    assert version(fresh) == 2


def test_a_stale_lead_is_not_replaced_by_the_admin(admin_client, incident, team, okafor):
    carol = MembershipFactory(team=team, user=UserFactory(username="carol")).user
    page = action(admin_client, "assign_lead", [incident]).content.decode()
    shown = hidden(page, f"version_{incident.pk}")
    services.incident_assign_role(incident=incident, role="lead", user=okafor, actor=okafor)
    admin_client.post(
        CHANGELIST,
        {
            "action": "assign_lead",
            "_selected_action": [incident.pk],
            "apply": "1",
            f"version_{incident.pk}": shown,
            "user": carol.pk,
        },
    )
    lead = RoleAssignment.objects.get(incident=incident, role__slug="lead", relieved_at__isnull=True)
    assert lead.user == okafor
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.ROLE_ASSIGNED).count() == 1


def test_an_invalid_form_shows_the_page_again_with_the_versions_first_shown(admin_client, incident, okafor):
    page = action(admin_client, "transition_status", [incident]).content.decode()
    shown = hidden(page, f"version_{incident.pk}")
    services.incident_transition(incident=incident, to="investigating", actor=okafor)
    again = admin_client.post(
        CHANGELIST,
        {
            "action": "transition_status",
            "_selected_action": [incident.pk],
            "apply": "1",
            f"version_{incident.pk}": shown,
            "to": "",
        },
    )
    assert again.status_code == 200
    assert hidden(again.content.decode(), f"version_{incident.pk}") == shown == "1"
