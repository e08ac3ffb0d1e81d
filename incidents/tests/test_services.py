"""Services: every write records its timeline event, in the same transaction, with old and new values."""

import pytest
from django.db import transaction

from core.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from incidents import selectors, services
from incidents.models import EventKind, Incident, RoleAssignment, TimelineEvent
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def kinds(incident):
    return list(TimelineEvent.objects.filter(incident=incident).order_by("id").values_list("kind", flat=True))


def test_declare_records_everything(member, team):
    svc = ServiceFactory(slug="checkout", team=team)
    incident = services.incident_declare(
        title="  Checkout   is down ",
        severity="critical",
        actor=member,
        source="api",
        summary="500s",
        team="payments",
        services=["checkout"],
        customer_impact=True,
    )
    incident.refresh_from_db()
    assert incident.title == "Checkout is down"
    assert incident.status == "triage"
    assert incident.severity.slug == "critical"
    assert incident.team == team
    assert list(incident.services.all()) == [svc]
    assert incident.declared_by == member
    assert incident.reference == f"INC-{incident.pk}" == Incident.reference_for(incident.pk)
    assert Incident().reference == Incident.reference_for(None) == "INC-new"
    event = TimelineEvent.objects.get(incident=incident)
    assert event.kind == EventKind.DECLARED
    assert event.source == "api"
    assert event.actor == member
    assert event.data["severity"] == "critical"
    assert event.data["services"] == ["checkout"]
    assert event.occurred_at == incident.declared_at


def test_declare_with_lead_assigns_and_records(member):
    incident = services.incident_declare(title="x", severity="major", actor=member, lead=member)
    assert kinds(incident) == ["declared", "role_assigned"]
    assert selectors.current_roles(incident)["lead"].user == member


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"team": "nope"}, "team"),
        ({"services": ["nope"]}, "services"),
        ({"services": [f"s{i}" for i in range(51)]}, "services"),
        ({"title": "Checkout\x00down"}, "title"),
        ({"summary": "a\x00b"}, "summary"),
    ],
)
def test_declare_refuses_bad_input_and_writes_nothing(user, kwargs, field):
    args = {"title": "Checkout down", "severity": "major", "actor": user} | kwargs
    with pytest.raises(ValidationError) as info:
        services.incident_declare(**args)
    assert info.value.field == field
    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0


def test_anonymous_cannot_declare():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        services.incident_declare(title="x", severity="major", actor=AnonymousUser())


def test_any_signed_in_user_can_declare_for_any_team(other_user, team):
    incident = services.incident_declare(title="x", severity="minor", actor=other_user, team=team)
    assert incident.declared_by == other_user


def test_transition_stamps_and_records(incident, member):
    services.incident_transition(incident=incident, to="investigating", actor=member, reason="looking")
    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert incident.investigating_at is not None
    event = TimelineEvent.objects.filter(incident=incident, kind="status_changed").get()
    assert event.data == {"old": "triage", "new": "investigating", "reopened": False}
    assert event.text == "looking"
    assert event.occurred_at == incident.investigating_at


def test_full_lifecycle_and_reopen(incident, member):
    for status in ("investigating", "identified", "monitoring", "resolved"):
        services.incident_transition(incident=incident, to=status, actor=member)
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    services.incident_transition(incident=incident, to="investigating", actor=member)
    incident.refresh_from_db()
    assert incident.resolved_at is None
    assert TimelineEvent.objects.filter(kind="status_changed").last().data["reopened"] is True
    services.incident_transition(incident=incident, to="resolved", actor=member)
    services.incident_transition(incident=incident, to="closed", actor=member)
    incident.refresh_from_db()
    assert incident.status == "closed" and incident.closed_at is not None


def test_invalid_transition_changes_nothing(incident, member):
    before = kinds(incident)
    with pytest.raises(InvalidTransition) as info:
        services.incident_transition(incident=incident, to="closed", actor=member)
    assert "Cannot move from triage to closed" in str(info.value)
    incident.refresh_from_db()
    assert incident.status == "triage"
    assert kinds(incident) == before


def test_unknown_status_is_invalid_transition(incident, member):
    with pytest.raises(InvalidTransition, match="Unknown status"):
        services.incident_transition(incident=incident, to="fixed", actor=member)


def test_decline_is_kept_and_visible(incident, member, other_user):
    services.incident_transition(incident=incident, to="declined", actor=member, reason="false alarm")
    incident.refresh_from_db()
    assert incident.status == "declined" and incident.declined_at is not None
    assert incident in selectors.incident_list(user=other_user)


def test_severity_change_records_old_and_new(incident, member):
    services.incident_change_severity(incident=incident, severity="major", actor=member)
    event = TimelineEvent.objects.get(incident=incident, kind="severity_changed")
    assert event.data == {"old": "critical", "new": "major", "escalated": False}
    with pytest.raises(Conflict):
        services.incident_change_severity(incident=incident, severity="major", actor=member)


def test_role_assignment_keeps_history(incident, member, team):
    carol = MembershipFactory(team=team, user=UserFactory(username="carol")).user
    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    services.incident_assign_role(incident=incident, role="lead", user=carol, actor=member)
    history = list(
        RoleAssignment.objects.filter(incident=incident, role__slug="lead").order_by("assigned_at", "id")
    )
    assert [a.user for a in history] == [member, carol]
    assert history[0].relieved_at is not None and history[0].relieved_by == member
    assert history[1].relieved_at is None and history[1].assigned_by == member
    handoff = TimelineEvent.objects.filter(incident=incident, kind="role_assigned").last()
    assert handoff.data["old"] == "bob" and handoff.data["new"] == "carol" and handoff.data["role"] == "lead"
    assert selectors.current_roles(incident)["lead"].user == carol


def test_one_current_holder_per_role_is_enforced_by_the_database(incident, member, other_user):
    from django.db import IntegrityError

    from tests.factories import role

    RoleAssignment.objects.create(incident=incident, role=role("lead"), user=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(incident=incident, role=role("lead"), user=other_user)


def test_assigning_same_holder_twice_is_a_conflict(incident, member):
    services.incident_assign_role(incident=incident, role="messenger", user=member, actor=member)
    with pytest.raises(Conflict):
        services.incident_assign_role(incident=incident, role="messenger", user=member, actor=member)


def test_unknown_role_and_inactive_user_are_refused(incident, member):
    with pytest.raises(ValidationError) as info:
        services.incident_assign_role(incident=incident, role="captain", user=member, actor=member)
    assert info.value.field == "role"
    ghost = UserFactory(username="ghost", is_active=False)
    with pytest.raises(ValidationError) as info:
        services.incident_assign_role(incident=incident, role="lead", user=ghost, actor=member)
    assert info.value.field == "user"


def test_relieve_role(incident, member):
    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    services.incident_relieve_role(incident=incident, role="lead", actor=member)
    assert "lead" not in selectors.current_roles(incident)
    event = TimelineEvent.objects.filter(incident=incident, kind="role_relieved").get()
    assert event.data["old"] == "bob" and event.data["new"] is None
    with pytest.raises(Conflict):
        services.incident_relieve_role(incident=incident, role="lead", actor=member)


def test_roles_frozen_once_closed(incident, member):
    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    for status in ("resolved", "closed"):
        services.incident_transition(incident=incident, to=status, actor=member)
    with pytest.raises(InvalidTransition):
        services.incident_assign_role(incident=incident, role="messenger", user=member, actor=member)
    with pytest.raises(InvalidTransition):
        services.incident_relieve_role(incident=incident, role="lead", actor=member)
    assert selectors.current_roles(selectors.incident_get(user=member, pk=incident.pk))["lead"].user == member


def test_consumer_run_is_not_run_again_once_done(incident, member):
    from incidents import consumers
    from incidents.models import ConsumerRun

    calls = []
    consumers.register("test.once", kinds={"note_added"}, handler=calls.append)
    try:
        note = services.incident_add_note(incident=incident, text="hi", actor=member)
        run = ConsumerRun.objects.get(event=note, consumer="test.once")
        assert calls == []  # this test's transaction never commits: nothing was dispatched
        assert services.consumer_run_execute(run_id=run.pk) == "done"
        assert services.consumer_run_execute(run_id=run.pk) == "done"  # a duplicate message
    finally:
        consumers.unregister("test.once")
    assert calls == [note]
    run.refresh_from_db()
    assert run.attempts == 1


def test_notes_and_updates(incident, member, other_user):
    note = services.incident_add_note(
        incident=incident, text="  rolled back  ", actor=other_user, source="slack"
    )
    assert note.kind == "note_added" and note.text == "rolled back" and note.source == "slack"
    with pytest.raises(ValidationError):
        services.incident_add_note(incident=incident, text="   ", actor=member)
    update = services.incident_post_update(incident=incident, text="We are investigating.", actor=member)
    assert update.kind == "update_posted" and update.data["status"] == "triage"
    with pytest.raises(PermissionDenied):
        services.incident_post_update(incident=incident, text="x", actor=other_user)


def test_update_fields_records_diff(incident, member, team):
    other_team = TeamFactory(slug="platform", name="Platform")
    svc = ServiceFactory(slug="db", team=other_team)
    services.incident_update(
        incident=incident,
        actor=member,
        title="Checkout slow",
        team="platform",
        services=["db"],
        customer_impact=True,
        summary="same",
    )
    incident.refresh_from_db()
    assert incident.title == "Checkout slow" and incident.team == other_team and incident.customer_impact
    assert list(incident.services.all()) == [svc]
    event = TimelineEvent.objects.get(incident=incident, kind="fields_changed")
    changes = event.data["changes"]
    assert changes["title"] == {"old": "Checkout is down", "new": "Checkout slow"}
    assert changes["team"] == {"old": "payments", "new": "platform"}
    assert changes["services"] == {"old": [], "new": ["db"]}
    assert changes["customer_impact"] == {"old": False, "new": True}


def test_update_without_change_records_nothing(incident, member):
    services.incident_update(incident=incident, actor=member, title="Checkout is down")
    assert kinds(incident) == ["declared"]


def test_update_refuses_status_and_unknown_fields(incident, member):
    with pytest.raises(ValidationError, match="status"):
        services.incident_update(incident=incident, actor=member, status="closed")


def test_missing_incident_is_not_found(member):
    with pytest.raises(NotFound):
        services.incident_transition(incident=999999, to="investigating", actor=member)
    with pytest.raises(NotFound):
        services.incident_add_note(incident=999999, text="x", actor=member)


def test_a_failed_change_rolls_back_its_event(incident, member):
    """The event and the change are one transaction: an error after both leaves neither."""
    with pytest.raises(RuntimeError), transaction.atomic():
        services.incident_transition(incident=incident, to="investigating", actor=member)
        raise RuntimeError("boom")
    incident.refresh_from_db()
    assert incident.status == "triage"
    assert kinds(incident) == ["declared"]


def test_timeline_events_are_immutable(incident):
    from incidents.models import ImmutableError

    event = TimelineEvent.objects.get(incident=incident)
    event.text = "rewrite history"
    with pytest.raises(ImmutableError):
        event.save()
    with pytest.raises(ImmutableError):
        event.delete()


def test_timeline_record_outside_transaction_is_refused(incident):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        # pytest-django wraps tests in a transaction; step outside it explicitly.
        from django.db import connection

        atomic = connection.in_atomic_block
        connection.in_atomic_block = False
        try:
            services.timeline_record(incident=incident, kind="note_added")
        finally:
            connection.in_atomic_block = atomic


def test_declare_through_the_api_is_a_constant_handful_of_queries(
    member_api, team, django_assert_max_num_queries
):
    ServiceFactory(slug="checkout", team=team)
    body = {"title": "Checkout down", "severity": "critical", "team": "payments", "services": ["checkout"]}
    # token, severity, team, services, 4 INSERTs (incident, its service link, the event, its consumer runs: one
    # bulk INSERT however many consumers are registered), then the 201 body reads the services and the roles;
    # plus the test transaction's SAVEPOINT and RELEASE.
    with django_assert_max_num_queries(12):
        response = member_api.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["services"][0]["slug"] == "checkout"


def test_next_actions_and_lead(incident, member):
    incident.customer_impact = True
    incident.save()
    assert [h["key"] for h in selectors.incident_next_actions(incident)] == ["lead", "messenger"]
    assert selectors.incident_lead(incident) is None
    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    services.incident_assign_role(incident=incident, role="messenger", user=member, actor=member)
    fresh = selectors.incident_get(user=member, pk=incident.pk)
    assert selectors.incident_next_actions(fresh) == []
    assert selectors.incident_lead(fresh) == member
    services.incident_transition(incident=incident, to="resolved", actor=member)
    fresh = selectors.incident_get(user=member, pk=incident.pk)
    assert [(h["key"], h["to"]) for h in selectors.incident_next_actions(fresh)] == [("close", "closed")]


def test_severity_get_resolves_a_severity_its_slug_or_its_id_and_names_the_choices_otherwise():
    major = selectors.severity_list().get(slug="major")
    assert selectors.severity_get(value=major) is major
    assert selectors.severity_get(value="major") == major
    assert selectors.severity_get(value=major.pk) == major
    for value in ("apocalyptic", "", None, 2**63, True):
        with pytest.raises(ValidationError) as info:
            selectors.severity_get(value=value, field="auto_page_severity")
        assert info.value.field == "auto_page_severity"
        assert str(info.value).endswith("Use one of: critical, major, minor.")
