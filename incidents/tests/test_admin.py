"""The incident admin: changelist, change form through the services, actions with an intermediate page, private
incidents hidden from those who may not see them, read-only timeline, consumer-run retry."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import consumers, services
from incidents.models import ConsumerRun, EventKind, Incident, RoleAssignment, TimelineEvent
from teams.models import Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory, severity

CHANGELIST = reverse("admin:incidents_incident_changelist")
ADD = reverse("admin:incidents_incident_add")
INCIDENT_PERMS = (
    "view_incident",
    "change_incident",
    "add_incident",
    "view_timelineevent",
    "view_roleassignment",
    "view_consumerrun",
    "change_consumerrun",
)


def change_url(incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def make_staff(username: str):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="incidents", codename__in=INCIDENT_PERMS)
    )
    return user


@pytest.fixture
def staff(db):
    """Staff with the incident model permissions, member of no team."""
    return make_staff("sam")


@pytest.fixture
def staff_member(db, team):
    """Staff with the incident model permissions, member of the incident's team."""
    user = make_staff("pat")
    MembershipFactory(team=team, user=user, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def private_incident(db, member, team):
    return services.incident_declare(
        title="Leaked credentials", severity="critical", actor=member, team=team, private=True
    )


def login(client, user):
    client.force_login(user)
    return client


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def action(client, name: str, incidents, **form):
    data = {"action": name, "_selected_action": [i.pk for i in incidents], **form}
    return client.post(CHANGELIST, data)


def apply(client, name: str, incidents, **form):
    return action(client, name, incidents, apply="1", **form)


def inline_management_data(response) -> dict:
    """What the browser sends back for the read-only inlines: management forms and hidden ids."""
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.forms:
            for name in form.fields:
                value = form[name].value()
                if value is not None:
                    data[form.add_prefix(name)] = value
    return data


def change_form_data(client, incident, **changes) -> dict:
    response = client.get(change_url(incident))
    assert response.status_code == 200
    data = {
        "title": incident.title,
        "summary": incident.summary,
        "team": incident.team_id or "",
        "services": [s.pk for s in incident.services.all()],
        **inline_management_data(response),
    }
    if incident.customer_impact:
        data["customer_impact"] = "on"
    if incident.private:
        data["private"] = "on"
    data.update(changes)
    return data


# --- Pages render -------------------------------------------------------------------------------------


def test_site_header(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "Muster administration" in response.content.decode()


def test_changelist_and_change_page_render(admin_client, incident, user):
    services.incident_assign_role(incident=incident, role="lead", user=user, actor=incident.declared_by)
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert incident.reference in body and "Checkout is down" in body
    assert "alice" in body  # the lead column
    assert list(response.context["cl"].result_list) == [incident]

    response = admin_client.get(change_url(incident))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Checkout is down" in body and "Role assigned" in body and "Incident lead" in body
    # Status and severity are shown, not editable.
    form = response.context["adminform"].form
    assert "status" not in form.fields and "severity" not in form.fields
    assert {"title", "summary", "team", "services", "customer_impact", "private"} <= set(form.fields)


def test_changelist_filters_and_date_hierarchy_render(admin_client, incident):
    year = incident.declared_at.year
    for query in (
        "?status__exact=triage",
        f"?severity__id__exact={incident.severity_id}",
        f"?team__id__exact={incident.team_id}",
        "?private__exact=0",
        "?customer_impact__exact=0",
        f"?declared_at__year={year}",
        "?_facets=1",
    ):
        response = admin_client.get(CHANGELIST + query)
        assert response.status_code == 200, query
        assert list(response.context["cl"].result_list) == [incident], query
    response = admin_client.get(CHANGELIST + "?status__exact=closed")
    assert list(response.context["cl"].result_list) == []


def test_search_by_reference_and_words(admin_client, member, team):
    first = services.incident_declare(title="Checkout is down", severity="major", actor=member, team=team)
    second = services.incident_declare(
        title="Login slow", summary="checkout unaffected", severity="minor", actor=member, team=team
    )
    for term, expected in (
        (first.reference, [first]),
        (f"inc-{second.pk}", [second]),
        ("Login", [second]),
        ("checkout", [second, first]),
        ("INC-999999999999999999", []),
    ):
        response = admin_client.get(CHANGELIST, {"q": term})
        assert response.status_code == 200, term
        assert list(response.context["cl"].result_list) == expected, term


@pytest.mark.parametrize("who", ["superuser", "staff"])
def test_changelist_query_count_is_constant(client, who, db, team):
    viewer = UserFactory(username="root2", is_staff=True, is_superuser=True) if who == "superuser" else None
    if viewer is None:
        viewer = make_staff("viewer")
        MembershipFactory(team=team, user=viewer)
    login(client, viewer)
    lead = UserFactory(username="lee")
    service = ServiceFactory(team=team)

    def declare(n):
        for i in range(n):
            services.incident_declare(
                title=f"Incident {i}",
                severity="major",
                actor=viewer,
                team=team,
                services=[service],
                private=bool(i % 2),
                lead=lead,
            )

    def count_queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(CHANGELIST)
        assert response.status_code == 200
        return len(ctx), response.context["cl"].result_count

    declare(3)
    few, shown = count_queries()
    assert shown == 3
    declare(27)
    many, shown = count_queries()
    assert shown == 30
    assert many == few


# --- Change form through the services -----------------------------------------------------------------


def test_saving_change_form_records_fields_changed_event(admin_client, admin_user, incident, team):
    service = ServiceFactory(team=team, slug="checkout", name="Checkout")
    data = change_form_data(
        admin_client, incident, title="Checkout fully down", services=[service.pk], customer_impact="on"
    )
    response = admin_client.post(change_url(incident), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.title == "Checkout fully down" and incident.customer_impact
    assert list(incident.services.all()) == [service]
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.FIELDS_CHANGED)
    assert event.source == "admin" and event.actor == admin_user
    assert event.data["changes"]["title"] == {"old": "Checkout is down", "new": "Checkout fully down"}
    assert event.data["changes"]["services"] == {"old": [], "new": ["checkout"]}
    assert event.data["changes"]["customer_impact"] == {"old": False, "new": True}


def test_saving_unchanged_form_records_nothing(admin_client, incident):
    response = admin_client.post(change_url(incident), change_form_data(admin_client, incident))
    assert response.status_code == 302
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.FIELDS_CHANGED).exists()


def test_status_and_severity_cannot_be_changed_through_the_form(admin_client, incident):
    data = change_form_data(admin_client, incident, status="resolved", severity=severity("minor").pk)
    response = admin_client.post(change_url(incident), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "triage" and incident.severity.slug == "critical"


def test_domain_error_on_save_is_shown_on_the_form(admin_client, incident):
    data = change_form_data(admin_client, incident, title="Renamed", summary="x" * (services.TEXT_MAX + 1))
    response = admin_client.post(change_url(incident), data)
    assert response.status_code == 200
    assert "Keep this under" in " ".join(response.context["adminform"].form.errors.get("summary", []))
    assert ("error", f"Keep this under {services.TEXT_MAX} characters.") in messages_of(response)
    incident.refresh_from_db()
    assert incident.title == "Checkout is down"
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.FIELDS_CHANGED).exists()


def test_adding_through_admin_declares(admin_client, admin_user, team):
    response = admin_client.post(
        ADD,
        {
            "title": "Search is broken",
            "summary": "",
            "severity": severity("major").pk,
            "team": team.pk,
            "private": "on",
        },
    )
    assert response.status_code == 302
    incident = Incident.objects.get(title="Search is broken")
    assert incident.declared_by == admin_user and incident.private and incident.team == team
    assert response["Location"] == change_url(incident) or response["Location"].endswith(CHANGELIST)
    declared = TimelineEvent.objects.get(incident=incident, kind=EventKind.DECLARED)
    assert declared.source == "admin" and declared.actor == admin_user


def test_incidents_cannot_be_deleted_in_admin(admin_client, incident):
    response = admin_client.post(
        reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()


# --- Timeline inline ----------------------------------------------------------------------------------


def test_timeline_inline_is_read_only_and_oldest_first(admin_client, incident, user):
    services.incident_assign_role(incident=incident, role="lead", user=user, actor=incident.declared_by)
    services.incident_transition(incident=incident, to="investigating", actor=incident.declared_by)
    response = admin_client.get(change_url(incident))
    body = response.content.decode()
    timeline = next(f for f in response.context["inline_admin_formsets"] if f.formset.model is TimelineEvent)
    assert not timeline.has_add_permission
    assert not timeline.has_change_permission
    assert not timeline.has_delete_permission
    assert [f.instance.kind for f in timeline.formset.forms] == [
        "declared",
        "role_assigned",
        "status_changed",
    ]
    assert "events-0-DELETE" not in body and "events-empty" not in body
    assert "role_assignments-0-DELETE" not in body and "role_assignments-empty" not in body
    # The timeline shows who, where from and the data.
    fields = {f.field["name"] for line in timeline for fieldset in line for row in fieldset for f in row}
    assert {"kind", "actor", "source", "occurred_at", "text", "data"} <= fields


def test_timeline_event_admin_is_view_only(admin_client, incident):
    event = TimelineEvent.objects.get(incident=incident, kind="declared")
    assert admin_client.get(reverse("admin:incidents_timelineevent_changelist")).status_code == 200
    response = admin_client.get(reverse("admin:incidents_timelineevent_change", args=[event.pk]))
    assert response.status_code == 200 and 'name="_save"' not in response.content.decode()
    assert admin_client.get(reverse("admin:incidents_timelineevent_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:incidents_timelineevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert TimelineEvent.objects.filter(pk=event.pk).exists()


# --- Actions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "form_field"),
    [
        ("assign_lead", "user"),
        ("assign_messenger", "user"),
        ("change_severity", "severity"),
        ("transition_status", "to"),
    ],
)
def test_action_intermediate_page_renders(admin_client, incident, name, form_field):
    response = action(admin_client, name, [incident])
    assert response.status_code == 200
    assert "admin/incidents/incident/action_confirmation.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert f'name="{form_field}"' in body and 'name="apply"' in body
    assert f'value="{name}"' in body and f'name="_selected_action" value="{incident.pk}"' in body
    assert incident.reference in body
    # Nothing happened yet.
    assert TimelineEvent.objects.filter(incident=incident).count() == 1


@pytest.mark.parametrize(("name", "slug"), [("assign_lead", "lead"), ("assign_messenger", "messenger")])
def test_assign_role_action(admin_client, admin_user, incident, user, name, slug):
    response = apply(admin_client, name, [incident], user=user.pk)
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(incident=incident, role__slug=slug, relieved_at__isnull=True)
    assert assignment.user == user and assignment.assigned_by == admin_user
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.ROLE_ASSIGNED)
    assert event.source == "admin" and event.actor == admin_user and event.data["role"] == slug
    assert any(level == "success" and incident.reference in text for level, text in messages_of(response))


def test_change_severity_action(admin_client, admin_user, incident):
    response = apply(
        admin_client, "change_severity", [incident], severity=severity("minor").pk, reason="Workaround found"
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.severity.slug == "minor"
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.SEVERITY_CHANGED)
    assert event.source == "admin" and event.actor == admin_user and event.text == "Workaround found"
    assert event.data["old"] == "critical" and event.data["new"] == "minor"


def test_transition_action_applies_per_incident(admin_client, admin_user, member, team):
    a = services.incident_declare(title="A", severity="major", actor=member, team=team)
    b = services.incident_declare(title="B", severity="major", actor=member, team=team)
    services.incident_transition(incident=b, to="declined", actor=member)
    response = apply(admin_client, "transition_status", [a, b], to="investigating", reason="Looking")
    assert response.status_code == 302
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == "investigating" and b.status == "declined"
    event = TimelineEvent.objects.get(incident=a, kind=EventKind.STATUS_CHANGED)
    assert event.source == "admin" and event.actor == admin_user and event.text == "Looking"
    msgs = messages_of(response)
    assert ("success", f"Moved to Investigating on {a.reference}.") in msgs
    assert any(level == "error" and text.startswith(f"{b.reference}: ") for level, text in msgs)


def test_invalid_transition_shows_error_and_changes_nothing(admin_client, incident):
    response = apply(admin_client, "transition_status", [incident], to="closed")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "triage"
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.STATUS_CHANGED).exists()
    msgs = messages_of(response)
    assert [level for level, _ in msgs] == ["error"]
    assert "Cannot move from triage to closed" in msgs[0][1]


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("transition_status", {"to": "sideways"}),
        ("transition_status", {}),  # no default target: a status must be picked
        ("change_severity", {}),
        ("assign_lead", {"user": "999999"}),
    ],
)
def test_action_with_invalid_form_shows_the_form_again(admin_client, incident, name, form):
    response = apply(admin_client, name, [incident], **form)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert TimelineEvent.objects.filter(incident=incident).count() == 1
    incident.refresh_from_db()
    assert incident.status == "triage"


def test_action_refused_by_service_permission_check(client, staff, incident):
    """Staff with model permissions but outside the incident's team: the service refuses, nothing changes."""
    login(client, staff)
    response = apply(client, "transition_status", [incident], to="investigating")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "triage"
    msgs = messages_of(response)
    assert [level for level, _ in msgs] == ["error"]
    assert msgs[0][1].startswith(f"{incident.reference}: Only members of the incident's team")


def test_staff_member_of_the_team_can_act(client, staff_member, incident):
    login(client, staff_member)
    response = apply(client, "transition_status", [incident], to="investigating")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert TimelineEvent.objects.get(incident=incident, kind="status_changed").actor == staff_member


def test_staff_outside_the_team_sees_a_read_only_change_page(client, staff, incident):
    login(client, staff)
    response = client.get(change_url(incident))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    response = client.post(change_url(incident), {"title": "Hijacked"})
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.title == "Checkout is down"


def test_staff_without_model_permissions_cannot_use_the_incident_admin(client, incident):
    login(client, UserFactory(username="nope", is_staff=True))
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(incident)).status_code == 403


# --- Private incidents ----------------------------------------------------------------------------------


def test_private_incident_hidden_from_staff_non_participant(client, staff, private_incident, incident):
    login(client, staff)
    response = client.get(CHANGELIST)
    assert list(response.context["cl"].result_list) == [incident]
    assert response.context["cl"].full_result_count == 1
    assert "Leaked credentials" not in response.content.decode()
    for term in (private_incident.reference, "Leaked"):
        response = client.get(CHANGELIST, {"q": term})
        assert list(response.context["cl"].result_list) == [], term
    assert client.get(change_url(private_incident)).status_code == 404
    assert (
        client.get(reverse("admin:incidents_incident_history", args=[private_incident.pk])).status_code == 404
    )
    # Same answer as an incident that does not exist.
    assert client.get(reverse("admin:incidents_incident_change", args=[999999])).status_code == 404

    # Absent from the timeline, role and consumer-run admins too.
    hidden_event = TimelineEvent.objects.get(incident=private_incident, kind="declared")
    response = client.get(reverse("admin:incidents_timelineevent_changelist"))
    assert hidden_event not in response.context["cl"].result_list
    assert response.context["cl"].result_list  # the visible incident's events are there
    url = reverse("admin:incidents_timelineevent_change", args=[hidden_event.pk])
    assert client.get(url).status_code == 404
    response = client.get(
        reverse("admin:incidents_timelineevent_changelist"), {"q": private_incident.reference}
    )
    assert list(response.context["cl"].result_list) == []


def test_private_incident_cannot_be_acted_on_by_hidden_pk(client, staff, private_incident):
    login(client, staff)
    response = apply(client, "transition_status", [private_incident], to="investigating")
    assert response.status_code == 302
    private_incident.refresh_from_db()
    assert private_incident.status == "triage"
    response = action(client, "transition_status", [private_incident])
    assert "Leaked credentials" not in response.content.decode()


def test_private_role_history_hidden_from_staff_non_participant(client, staff, private_incident, user):
    services.incident_assign_role(
        incident=private_incident, role="lead", user=user, actor=private_incident.declared_by
    )
    assignment = RoleAssignment.objects.get(incident=private_incident)
    login(client, staff)
    response = client.get(reverse("admin:incidents_roleassignment_changelist"))
    assert list(response.context["cl"].result_list) == []
    url = reverse("admin:incidents_roleassignment_change", args=[assignment.pk])
    assert client.get(url).status_code == 404


def test_private_incident_visible_to_superuser(admin_client, private_incident):
    response = admin_client.get(CHANGELIST, {"q": private_incident.reference})
    assert list(response.context["cl"].result_list) == [private_incident]
    assert admin_client.get(change_url(private_incident)).status_code == 200


def test_private_incident_visible_to_staff_participant(client, staff_member, private_incident):
    login(client, staff_member)
    response = client.get(CHANGELIST)
    assert list(response.context["cl"].result_list) == [private_incident]
    response = client.get(change_url(private_incident))
    assert response.status_code == 200 and "Leaked credentials" in response.content.decode()


def test_private_incident_visible_to_staff_who_held_a_role(client, staff, private_incident):
    services.incident_assign_role(
        incident=private_incident, role="messenger", user=staff, actor=private_incident.declared_by
    )
    login(client, staff)
    assert client.get(change_url(private_incident)).status_code == 200


# --- Reference data ---------------------------------------------------------------------------------------


def test_severity_and_role_admins(admin_client):
    response = admin_client.get(reverse("admin:incidents_severity_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Critical" in body and "background:#dc2626" in body
    response = admin_client.get(reverse("admin:incidents_severity_change", args=[severity("critical").pk]))
    assert response.status_code == 200 and "slug" not in response.context["adminform"].form.fields
    assert admin_client.get(reverse("admin:incidents_role_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:incidents_severity_add")).status_code == 200


def test_team_and_role_filters_do_not_break_for_incidents_without_team(admin_client, admin_user):
    incident = services.incident_declare(title="Unowned", severity="major", actor=admin_user)
    response = admin_client.get(CHANGELIST, {"team__isnull": "True"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [incident]


# --- Consumer runs --------------------------------------------------------------------------------------


@pytest.fixture
def ok_consumer():
    calls: list[int] = []
    consumers.register("test.admin_ok", kinds={"test.never"}, handler=lambda event: calls.append(event.pk))
    yield calls
    consumers.unregister("test.admin_ok")


def test_consumer_run_changelist_and_retry_action(
    admin_client, incident, ok_consumer, django_capture_on_commit_callbacks
):
    event = TimelineEvent.objects.get(incident=incident, kind="declared")
    failed = ConsumerRun.objects.create(
        event=event, consumer="test.admin_ok", status="failed", attempts=8, last_error="ConnectionError: boom"
    )
    done = ConsumerRun.objects.create(event=event, consumer="test.other", status="done", attempts=1)
    url = reverse("admin:incidents_consumerrun_changelist")
    response = admin_client.get(url, {"status__exact": "failed"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [failed]
    assert "ConnectionError: boom" in response.content.decode()
    assert admin_client.get(url, {"consumer": "test.admin_ok"}).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"action": "retry_failed", "_selected_action": [failed.pk, done.pk], "index": "0"}
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    done.refresh_from_db()
    assert ok_consumer == [event.pk]  # re-dispatched after commit, and ran
    assert failed.status == "done" and failed.attempts == 1
    assert done.status == "done" and done.attempts == 1
    msgs = messages_of(response)
    assert ("success", "Retried 1 failed run(s).") in msgs
    assert ("warning", "Skipped 1 run(s) that had not failed.") in msgs


def test_consumer_run_page_is_read_only(admin_client, incident):
    event = TimelineEvent.objects.get(incident=incident, kind="declared")
    run = ConsumerRun.objects.create(event=event, consumer="test.x", status="failed")
    response = admin_client.get(reverse("admin:incidents_consumerrun_change", args=[run.pk]))
    assert response.status_code == 200 and 'name="_save"' not in response.content.decode()
    assert admin_client.get(reverse("admin:incidents_consumerrun_add")).status_code == 403
    response = admin_client.post(reverse("admin:incidents_consumerrun_change", args=[run.pk]), {})
    assert response.status_code == 403


def test_consumer_runs_of_private_incidents_hidden(client, staff, private_incident):
    event = TimelineEvent.objects.get(incident=private_incident, kind="declared")
    run = ConsumerRun.objects.create(event=event, consumer="test.x", status="failed")
    login(client, staff)
    response = client.get(reverse("admin:incidents_consumerrun_changelist"))
    assert run not in response.context["cl"].result_list
    url = reverse("admin:incidents_consumerrun_change", args=[run.pk])
    assert client.get(url).status_code == 404


def test_other_team_incident_is_visible_but_refused(client, staff):
    other = TeamFactory(slug="platform", name="Platform")
    owner = UserFactory(username="owner")
    MembershipFactory(team=other, user=owner)
    incident = services.incident_declare(title="Platform down", severity="major", actor=owner, team=other)
    login(client, staff)
    response = apply(client, "change_severity", [incident], severity=severity("minor").pk)
    incident.refresh_from_db()
    assert incident.severity.slug == "major"
    assert messages_of(response)[0][0] == "error"
