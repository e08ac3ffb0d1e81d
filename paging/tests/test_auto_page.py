"""Auto-paging after the declaration: choosing the team, raising the severity. The same rule as on declare
(``paging.consumers.auto_page``), driven by the timeline events, run once per event, and on the timeline."""

import pytest

from incidents import services as incident_services
from incidents.models import ConsumerRun, TimelineEvent
from oncall.models import Rotation, RotationMember, Schedule
from paging import services
from paging.consumers import AUTO_PAGE, auto_page
from paging.models import Page
from teams.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _team_with_auto_page(slug: str, on_call: str, threshold: str = "critical"):
    team = TeamFactory(name=slug.title(), slug=slug)
    lead = MembershipFactory(
        team=team, user=UserFactory(username=f"{slug}-lead"), role=Membership.Role.LEAD
    ).user
    person = MembershipFactory(team=team, user=UserFactory(username=on_call)).user
    schedule = Schedule.objects.create(team=team, name="Primary", slug=f"{slug}-primary")
    rotation = Rotation.objects.create(
        schedule=schedule, name="Weekly", start_date="2024-01-01", handoff_time="09:00"
    )
    RotationMember.objects.create(rotation=rotation, user=person, position=0)
    services.escalation_policy_create(
        team=team,
        name=f"{slug} default",
        actor=lead,
        is_default=True,
        auto_page_severity=threshold,
        steps=[{"target": "schedule", "schedule": schedule.slug, "wait_minutes": 5}],
    )
    return team


@pytest.fixture
def payments(db):
    return _team_with_auto_page("payments", "carol")


@pytest.fixture
def platform(db):
    return _team_with_auto_page("platform", "dave")


@pytest.fixture
def responder(payments, platform):
    user = UserFactory(username="bob")
    MembershipFactory(team=payments, user=user)
    MembershipFactory(team=platform, user=user)
    return user


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a service and the consumers of the events it records, as the dispatcher would after commit."""

    def go(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return go


def paged(incident) -> list[tuple[str, list[str]]]:
    events = TimelineEvent.objects.filter(incident=incident, kind="paged").order_by("occurred_at", "id")
    return [(e.data["team"], e.data["users"]) for e in events]


def test_choosing_the_team_after_declaring_pages_it(run, responder, payments):
    incident = run(incident_services.incident_declare, title="Down", severity="critical", actor=responder)
    assert not Page.objects.filter(incident=incident).exists()
    run(incident_services.incident_update, incident=incident, actor=responder, team=payments)
    page = Page.objects.get(incident=incident)
    assert (page.team, page.status, page.created_by) == (payments, Page.Status.TRIGGERED, None)
    assert page.reason.startswith("Team set to Payments on a Critical incident")
    assert paged(incident) == [("payments", ["carol"])]
    assert TimelineEvent.objects.get(incident=incident, kind="paged").source == "system"


def test_raising_the_severity_to_a_paging_one_pages_the_team(run, responder, payments):
    incident = run(
        incident_services.incident_declare, title="Errors", severity="major", actor=responder, team=payments
    )
    assert paged(incident) == []
    run(incident_services.incident_change_severity, incident=incident, severity="critical", actor=responder)
    assert paged(incident) == [("payments", ["carol"])]
    assert Page.objects.get(incident=incident).reason.startswith("Raised to Critical")


def test_raising_again_does_not_page_twice_while_a_page_is_active(run, responder, payments):
    incident = run(
        incident_services.incident_declare, title="Errors", severity="major", actor=responder, team=payments
    )
    for severity in ("critical", "major", "critical"):
        run(incident_services.incident_change_severity, incident=incident, severity=severity, actor=responder)
    assert paged(incident) == [("payments", ["carol"])]
    # Acknowledged: the team is on it; raising again pages nobody either.
    services.page_acknowledge(page=Page.objects.get(incident=incident), actor=responder)
    for severity in ("major", "critical"):
        run(incident_services.incident_change_severity, incident=incident, severity=severity, actor=responder)
    assert Page.objects.filter(incident=incident).count() == 1


def test_lowering_or_a_minor_severity_pages_nobody(run, responder, payments):
    incident = run(
        incident_services.incident_declare, title="Slow", severity="minor", actor=responder, team=payments
    )
    run(incident_services.incident_change_severity, incident=incident, severity="major", actor=responder)
    assert paged(incident) == []  # major does not reach the critical threshold


def test_changing_the_team_pages_the_new_team(run, responder, payments, platform):
    incident = run(
        incident_services.incident_declare, title="Down", severity="critical", actor=responder, team=payments
    )
    assert paged(incident) == [("payments", ["carol"])]
    run(incident_services.incident_update, incident=incident, actor=responder, team=platform)
    assert paged(incident) == [("payments", ["carol"]), ("platform", ["dave"])]
    # Other edits (the title) page nobody.
    run(incident_services.incident_update, incident=incident, actor=responder, title="Down hard")
    assert len(paged(incident)) == 2


def test_each_event_runs_the_consumer_once(run, responder, payments):
    incident = run(incident_services.incident_declare, title="Down", severity="critical", actor=responder)
    run(incident_services.incident_update, incident=incident, actor=responder, team=payments)
    event = TimelineEvent.objects.get(incident=incident, kind="fields_changed")
    assert ConsumerRun.objects.get(event=event, consumer=AUTO_PAGE).status == ConsumerRun.Status.DONE
    auto_page(event)  # a replay of the same event (a sweeper after a lost "done"): no second page
    assert Page.objects.filter(incident=incident).count() == 1


def test_a_team_changed_again_before_the_consumer_ran_pages_only_the_last(responder, payments, platform):
    incident = incident_services.incident_declare(title="Down", severity="critical", actor=responder)
    incident_services.incident_update(incident=incident, actor=responder, team=payments)
    incident_services.incident_update(incident=incident, actor=responder, team=platform)
    for event in TimelineEvent.objects.filter(incident=incident).order_by("id"):
        auto_page(event)
    assert paged(incident) == [("platform", ["dave"])]
