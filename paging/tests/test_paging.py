"""Paging services: step order, waits, repeats, exhaustion, acknowledgement, stale wake-ups, auto-page, cancel."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from incidents import services as incident_services
from incidents.models import TimelineEvent
from notifications.models import Destination, Message, RoutingRule
from oncall.models import Rotation, RotationMember, Schedule
from paging import selectors, services
from paging.models import EscalationPolicy, Page, PageStep
from paging.state import PlanStep
from teams.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(team):
    return MembershipFactory(team=team, user=UserFactory(username="lena"), role=Membership.Role.LEAD).user


@pytest.fixture
def carol(team):
    return MembershipFactory(team=team, user=UserFactory(username="carol")).user


@pytest.fixture
def schedule(team, carol):
    schedule = Schedule.objects.create(team=team, name="Primary", slug="primary")
    rotation = Rotation.objects.create(
        schedule=schedule, name="Weekly", start_date="2024-01-01", handoff_time="09:00"
    )
    RotationMember.objects.create(rotation=rotation, user=carol, position=0)
    return schedule


@pytest.fixture
def policy(team, lead, schedule):
    return services.escalation_policy_create(
        team=team,
        name="Default",
        actor=lead,
        repeat=1,
        is_default=True,
        steps=[
            {"target": "schedule", "schedule": "primary", "wait_minutes": 5},
            {"target": "user", "user": "lena", "wait_minutes": 10},
        ],
    )


def wake(page: Page, *, late: bool = True) -> str:
    """Run the page's pending wake-up as a worker would, the clock moved past its due time."""
    page.refresh_from_db()
    if late and page.next_escalation_at:
        Page.objects.filter(pk=page.pk).update(next_escalation_at=timezone.now() - timedelta(seconds=1))
    return services.page_step_run(page_id=page.pk, token=str(page.wake_token))


def paged_users(page: Page) -> list[list[str]]:
    events = TimelineEvent.objects.filter(incident=page.incident, kind="paged", data__page=page.pk)
    return [e.data["users"] for e in events.order_by("occurred_at", "id")]


def test_steps_run_in_order_and_repeat_then_exhaust(incident, member, policy):
    page = services.page_create(incident=incident, team=incident.team, actor=member, reason="Checkout down")
    assert page.policy == policy
    assert page.status == Page.Status.TRIGGERED
    assert wake(page) == "notified"
    assert wake(page) == "notified"  # round 2, step 1
    assert wake(page) == "notified"
    assert wake(page) == "exhausted"
    assert paged_users(page) == [["carol"], ["lena"], ["carol"], ["lena"]]
    page.refresh_from_db()
    assert page.status == Page.Status.EXHAUSTED and page.next_escalation_at is None
    assert list(PageStep.objects.filter(page=page).values_list("round", "step")) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert TimelineEvent.objects.filter(incident=incident, kind="page_exhausted").count() == 1
    # A wake-up after the end changes nothing, and one with an old token is refused as stale.
    assert wake(page) == "finished"
    assert services.page_step_run(page_id=page.pk, token=str(uuid.uuid4())) == "stale"
    assert PageStep.objects.filter(page=page).count() == 4
    page.refresh_from_db()
    assert page.status == Page.Status.EXHAUSTED


def test_wait_comes_from_the_step(incident, member, policy, settings):
    settings.ONCALL_MINUTE_SECONDS = 60
    before = timezone.now()
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    assert before + timedelta(minutes=5) <= page.next_escalation_at <= timezone.now() + timedelta(minutes=5)
    wake(page)
    page.refresh_from_db()
    assert page.step == 1
    assert page.next_escalation_at - timezone.now() > timedelta(minutes=9)


def test_not_yet_due_and_stale_tokens_are_refused(incident, member, policy):
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    token = str(page.wake_token)
    assert services.page_step_run(page_id=page.pk, token=token) == "not_due"
    assert wake(page) == "notified"
    # The old token is stale: the step it would have run has run.
    assert services.page_step_run(page_id=page.pk, token=token) == "stale"
    assert PageStep.objects.filter(page=page).count() == 2
    assert services.page_step_run(page_id=10**9, token=token) == "missing"


def test_the_same_step_twice_is_a_noop(incident, member, policy):
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    page.refresh_from_db()
    Page.objects.filter(pk=page.pk).update(next_escalation_at=timezone.now() - timedelta(seconds=1))
    token = str(page.wake_token)
    assert services.page_step_run(page_id=page.pk, token=token) == "notified"
    messages = Message.objects.count()
    # The same wake-up delivered twice (a redelivered broker message): nothing more.
    assert services.page_step_run(page_id=page.pk, token=token) == "stale"
    assert Message.objects.count() == messages
    assert len(paged_users(page)) == 2
    # Even with the token and the clock right, an existing (page, round, step) is not notified again.
    page.refresh_from_db()
    page.step = 0
    assert services._notify_step(page=page, incident=incident, plan=selectors.page_plan(page)[0]) is None


def test_acknowledge_stops_escalation(incident, member, policy, carol):
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    token = str(page.wake_token)
    services.page_acknowledge(page=page, actor=carol, source="web")
    page.refresh_from_db()
    assert page.status == Page.Status.ACKNOWLEDGED and page.acknowledged_by == carol
    assert page.next_escalation_at is None
    Page.objects.filter(pk=page.pk).update(next_escalation_at=timezone.now() - timedelta(seconds=1))
    assert services.page_step_run(page_id=page.pk, token=token) == "stale"
    assert len(paged_users(page)) == 1
    event = TimelineEvent.objects.get(incident=incident, kind="page_acknowledged")
    assert event.actor == carol and event.data["page"] == page.pk
    with pytest.raises(Conflict):
        services.page_acknowledge(page=page, actor=carol)


def test_messages_go_to_each_person_once_per_step_with_the_ack_link(
    incident, member, policy, carol, settings
):
    settings.NOTIFY_EMAIL = True
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    emails = Message.objects.filter(channel="email", recipient=carol)
    assert emails.count() == 1
    email = emails.get()
    assert email.dedupe_key == f"page:{page.pk}:r0:s0:u{carol.pk}:email"
    assert f"/oncall/pages/{page.pk}/ack/{page.ack_token}/" in email.body
    assert "[PAGE]" in email.subject


def test_webhook_destinations_of_rules_with_the_paged_kind(incident, member, policy):
    hook = Destination.objects.create(
        name="SMS gateway", channel="webhook", webhook_url="https://sms.example/hook"
    )
    other = Destination.objects.create(
        name="Other", channel="webhook", webhook_url="https://other.example/hook"
    )
    rule = RoutingRule.objects.create(name="Pages to SMS", event_kinds=["paged"], team=incident.team)
    rule.destinations.add(hook)
    RoutingRule.objects.create(name="Declared", event_kinds=["declared"]).destinations.add(other)
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    hooks = Message.objects.filter(channel="webhook", dedupe_key__startswith=f"page:{page.pk}:")
    assert [m.destination for m in hooks] == [hook]
    payload = hooks.get().payload
    assert payload["type"] == "page.step"
    assert payload["page"]["id"] == page.pk and payload["incident"]["id"] == incident.pk
    assert payload["people"][0]["username"] == "carol"
    assert payload["page"]["ack_url"].endswith(f"/ack/{page.ack_token}/")


def test_team_without_policy_pages_its_oncall_then_exhausts(incident, member, lead):
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    assert page.policy is None
    assert paged_users(page) == [["lena"]]  # no schedule resolver found anyone: the leads stand in
    assert wake(page) == "exhausted"


def test_team_without_leads_pages_its_members(member):
    team = TeamFactory(slug="quiet", name="Quiet")
    MembershipFactory(team=team, user=UserFactory(username="solo"))
    incident = incident_services.incident_declare(
        title="Disk full", severity="minor", actor=member, team=team
    )
    page = services.page_create(incident=incident, team=team, actor=member)
    assert paged_users(page) == [["solo"]]


def test_paging_a_person(incident, member, other_user):
    page = services.page_create(incident=incident, user=other_user, actor=member, source="api")
    assert paged_users(page) == [["mallory"]]
    event = TimelineEvent.objects.get(incident=incident, kind="paged")
    assert event.actor == member and event.source == "api"
    # The person paged may acknowledge, though not on the team.
    services.page_acknowledge(page=page, actor=other_user)


def test_a_second_page_while_one_rings_is_refused(incident, member, policy):
    services.page_create(incident=incident, team=incident.team, actor=member)
    with pytest.raises(Conflict):
        services.page_create(incident=incident, team=incident.team, actor=member)


def test_input_is_checked(incident, member, team, other_user):
    with pytest.raises(ValidationError):
        services.page_create(incident=incident, actor=member)
    with pytest.raises(ValidationError):
        services.page_create(incident=incident, team=team, user=other_user, actor=member)
    with pytest.raises(ValidationError):
        services.page_create(incident=incident, team=team, actor=member, reason="x" * 501)


def test_auto_page_on_declare_by_severity(team, member, lead, schedule, django_capture_on_commit_callbacks):
    services.escalation_policy_create(
        team=team,
        name="Auto",
        actor=lead,
        is_default=True,
        auto_page_severity="major",
        steps=[{"target": "schedule", "schedule": "primary", "wait_minutes": 5}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        minor = incident_services.incident_declare(
            title="Slow admin", severity="minor", actor=member, team=team
        )
        critical = incident_services.incident_declare(
            title="Down", severity="critical", actor=member, team=team
        )
        major = incident_services.incident_declare(title="Errors", severity="major", actor=member, team=team)
    assert not Page.objects.filter(incident=minor).exists()
    for incident in (critical, major):
        page = Page.objects.get(incident=incident)
        assert page.team == team and page.created_by is None
        assert paged_users(page) == [["carol"]]
        assert TimelineEvent.objects.get(incident=incident, kind="paged").source == "system"


def test_resolving_cancels_triggered_pages(incident, member, policy, django_capture_on_commit_callbacks):
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    token = str(page.wake_token)
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_transition(incident=incident, to="resolved", actor=member)
    page.refresh_from_db()
    assert page.status == Page.Status.CANCELLED and page.next_escalation_at is None
    assert services.page_step_run(page_id=page.pk, token=token) == "stale"
    with pytest.raises(Conflict):
        services.page_create(incident=incident, team=incident.team, actor=member)


def test_a_wakeup_after_resolution_cancels_instead_of_paging(incident, member, policy):
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    # The consumer has not run yet (no on-commit callbacks here): the wake-up itself sees the incident resolved.
    incident_services.incident_transition(incident=incident, to="resolved", actor=member)
    assert wake(page) == "cancelled"
    assert len(paged_users(page)) == 1


# --- Permissions tables -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, allowed",
    [("member", True), ("admin", True), ("declarer", True), ("outsider", False), ("anonymous", False)],
)
def test_who_may_page(who, allowed, incident, member, admin_user, other_user, team):
    from django.contrib.auth.models import AnonymousUser

    actor = {"member": member, "admin": admin_user, "declarer": incident.declared_by, "outsider": other_user,
             "anonymous": AnonymousUser()}[who]  # fmt: skip
    if allowed:
        assert services.page_create(incident=incident, user=other_user, actor=actor).pk
    else:
        with pytest.raises((PermissionDenied, NotFound)):
            services.page_create(incident=incident, user=other_user, actor=actor)


@pytest.mark.parametrize(
    "who, allowed",
    [("paged", True), ("member", True), ("admin", True), ("outsider", False), ("token", True)],
)
def test_who_may_acknowledge(who, allowed, incident, member, admin_user, other_user):
    paged = UserFactory(username="paged-person")
    page = services.page_create(incident=incident, user=paged, actor=member)
    actor = {
        "paged": paged,
        "member": member,
        "admin": admin_user,
        "outsider": other_user,
        "token": other_user,
    }[who]
    token = page.ack_token if who == "token" else None
    if allowed:
        assert (
            services.page_acknowledge(page=page, actor=actor, token=token).status == Page.Status.ACKNOWLEDGED
        )
    else:
        with pytest.raises(PermissionDenied):
            services.page_acknowledge(page=page, actor=actor, token="wrong")


@pytest.mark.parametrize(
    "role, allowed",
    [("lead", True), ("admin-role", True), ("member", False), ("superuser", True), ("outsider", False)],
)
def test_who_may_edit_policies(role, allowed, team, member, admin_user, other_user, schedule):
    actor = {
        "lead": MembershipFactory(team=team, role=Membership.Role.LEAD).user,
        "admin-role": MembershipFactory(team=team, role=Membership.Role.ADMIN).user,
        "member": member,
        "superuser": admin_user,
        "outsider": other_user,
    }[role]
    steps = [{"target": "team", "wait_minutes": 3}]
    if allowed:
        policy = services.escalation_policy_create(team=team, name="P", actor=actor, steps=steps)
        services.escalation_policy_update(policy=policy, actor=actor, repeat=2)
        services.escalation_policy_delete(policy=policy, actor=actor)
    else:
        with pytest.raises(PermissionDenied):
            services.escalation_policy_create(team=team, name="P", actor=actor, steps=steps)


# --- Policy validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps, repeat",
    [
        ([], 0),
        ([{"target": "team", "wait_minutes": 0}], 0),
        ([{"target": "team", "wait_minutes": 1441}], 0),
        ([{"target": "team", "wait_minutes": 5}], 11),
        ([{"target": "phone", "wait_minutes": 5}], 0),
        ([{"target": "schedule", "schedule": "nope", "wait_minutes": 5}], 0),
        ([{"target": "schedule", "schedule": "theirs", "wait_minutes": 5}], 0),
        ([{"target": "user", "user": "mallory", "wait_minutes": 5}], 0),
        ([{"target": "team"}] * 21, 0),
    ],
)
def test_policy_validation(steps, repeat, team, lead, other_user):
    other = TeamFactory(slug="other", name="Other")
    Schedule.objects.create(team=other, name="Theirs", slug="theirs")
    with pytest.raises(ValidationError):
        services.escalation_policy_create(team=team, name="Bad", actor=lead, steps=steps, repeat=repeat)


def test_one_default_per_team(team, lead):
    steps = [{"target": "team", "wait_minutes": 5}]
    first = services.escalation_policy_create(team=team, name="First", actor=lead, steps=steps)
    assert first.is_default  # a team's first policy is its default
    second = services.escalation_policy_create(
        team=team, name="Second", actor=lead, steps=steps, is_default=True
    )
    first.refresh_from_db()
    assert second.is_default and not first.is_default
    services.escalation_policy_update(policy=first, actor=lead, is_default=True)
    assert list(EscalationPolicy.objects.filter(team=team, is_default=True)) == [first]


def test_update_replaces_steps_and_delete_refuses_running_pages(incident, member, lead, policy):
    services.escalation_policy_update(
        policy=policy, actor=lead, steps=[{"target": "user", "user": "lena", "wait_minutes": 1}]
    )
    assert [(s.position, s.target, s.user.username) for s in policy.steps.all()] == [(0, "user", "lena")]
    services.page_create(incident=incident, team=incident.team, actor=member)
    with pytest.raises(Conflict):
        services.escalation_policy_delete(policy=policy, actor=lead)


def test_a_schedule_step_notifies_who_is_on_call(schedule, carol):
    assert selectors.step_people(
        PlanStep(target="schedule", wait_minutes=5, schedule=schedule), timezone.now()
    ) == [carol]


def test_sweeper_finds_overdue_pages(incident, member, policy):
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    assert selectors.pages_overdue(grace=timedelta(seconds=10)) == []
    Page.objects.filter(pk=page.pk).update(next_escalation_at=timezone.now() - timedelta(seconds=11))
    page.refresh_from_db()
    assert selectors.pages_overdue(grace=timedelta(seconds=10)) == [(page.pk, page.wake_token)]
