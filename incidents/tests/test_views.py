"""The staff web UI for incidents: pages, the declare form, the htmx action views, visibility and query counts."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.models import EventKind, Incident, RoleAssignment, TimelineEvent
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def kinds(incident):
    return list(TimelineEvent.objects.filter(incident=incident).order_by("id").values_list("kind", flat=True))


def messages_text(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def outsider(db):
    """Signed in, in no team: may see and note public incidents, may not act on team incidents."""
    return UserFactory(username="olga", first_name="Olga", last_name="Outside")


@pytest.fixture
def private_incident(member, team):
    return services.incident_declare(
        title="Leaked signing key", severity="critical", actor=member, team=team, private=True
    )


# --- Pages render, and require sign-in ---------------------------------------------------------


def page_urls(incident):
    return [
        reverse("incidents:dashboard"),
        reverse("incidents:list"),
        reverse("incidents:declare"),
        reverse("incidents:detail", args=[incident.pk]),
        reverse("incidents:timeline", args=[incident.pk]),
    ]


def test_every_page_renders_for_a_signed_in_user(member_client, incident):
    for url in page_urls(incident):
        response = member_client.get(url)
        assert response.status_code == 200, url
        assert b"Declare incident" in response.content or url.endswith("/timeline/"), url


def test_every_page_has_the_declare_button_and_the_nav(member_client, incident):
    for url in page_urls(incident)[:4]:
        html = member_client.get(url).content.decode()
        assert 'data-testid="declare-button"' in html
        for link in ("/incidents/", "/teams/", "/api/docs/"):
            assert f'href="{link}"' in html
        # Sign out is a POST form, never a link.
        assert re.search(r'<form method="post" action="/accounts/logout/">', html)


def test_admin_link_only_for_staff(client, member, admin_user):
    client.force_login(member)
    assert 'href="/admin/"' not in client.get(reverse("incidents:dashboard")).content.decode()
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get(reverse("incidents:dashboard")).content.decode()


ACTIONS = ["transition", "severity", "assign_role", "relieve_role", "note", "update_post", "edit"]


def test_anonymous_users_are_sent_to_sign_in(client, incident):
    for url in page_urls(incident):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    for name in ACTIONS:
        response = client.post(reverse(f"incidents:{name}", args=[incident.pk]), {"to": "investigating"})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    incident.refresh_from_db()
    assert incident.status == "triage"


def test_action_views_refuse_get(member_client, incident):
    for name in ACTIONS:
        assert member_client.get(reverse(f"incidents:{name}", args=[incident.pk])).status_code == 405


def test_unknown_incident_is_a_404_page(member_client):
    response = member_client.get("/incidents/999999/")
    assert response.status_code == 404
    assert b"find that page" in response.content
    assert b"Declare incident" in response.content  # the same layout


# --- Dashboard -----------------------------------------------------------------------------------


def test_dashboard_empty_state_says_what_to_do(member_client):
    html = member_client.get(reverse("incidents:dashboard")).content.decode()
    assert 'data-testid="empty-state"' in html
    assert "declare an incident" in html
    assert reverse("incidents:declare") in html


def test_dashboard_groups_open_incidents_by_severity_most_severe_first(member_client, member, team):
    minor = services.incident_declare(title="Slow PDFs", severity="minor", actor=member, team=team)
    critical = services.incident_declare(title="Checkout down", severity="critical", actor=member)
    closed = services.incident_declare(title="Old one", severity="major", actor=member, team=team)
    services.incident_transition(incident=closed, to="declined", actor=member)
    html = member_client.get(reverse("incidents:dashboard")).content.decode()
    assert html.index('id="sev-critical"') < html.index('id="sev-minor"')
    assert 'id="sev-major"' not in html  # no open major incident
    assert critical.title in html and minor.title in html
    assert closed.title not in html
    assert re.search(r'data-testid="open-total">\s*2\s*<', html)
    # Counts by team, with a bucket for incidents without a team.
    assert f"?status=open&amp;team={team.slug}" in html
    assert "No team yet" in html


def test_dashboard_lists_my_incidents(member_client, member, other_user):
    mine = services.incident_declare(title="Mine to lead", severity="major", actor=member, lead=member)
    services.incident_declare(title="Someone else's", severity="major", actor=other_user, lead=other_user)
    response = member_client.get(reverse("incidents:dashboard"))
    assert [i.pk for i in response.context["mine"]] == [mine.pk]
    assert "Your incidents" in response.content.decode()


# --- List --------------------------------------------------------------------------------------


def test_list_shows_the_columns(member_client, member, team):
    incident = services.incident_declare(
        title="Card payments fail", severity="critical", actor=member, team=team, lead=member
    )
    html = member_client.get(reverse("incidents:list")).content.decode()
    assert f"INC-{incident.pk}" in html
    assert "Card payments fail" in html
    assert 'class="chip sev"' in html and "Critical" in html
    assert 'class="pill status-triage"' in html
    assert "Payments" in html
    assert member.get_full_name() in html
    # Relative time with the UTC time on hover.
    assert re.search(r'<time class="reltime" datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">', html)


def test_list_filters(member_client, member, team):
    other_team = TeamFactory(slug="platform", name="Platform")
    a = services.incident_declare(title="Checkout errors", severity="critical", actor=member, team=team)
    b = services.incident_declare(title="Replica lag", severity="major", actor=member, team=other_team)
    c = services.incident_declare(title="Disk alert", severity="minor", actor=member, team=other_team)
    services.incident_transition(incident=c, to="declined", actor=member)

    def listed(**params):
        response = member_client.get(reverse("incidents:list"), params)
        assert response.status_code == 200
        return {i.pk for i in response.context["page"].object_list}

    assert listed() == {a.pk, b.pk, c.pk}
    assert listed(status="open") == {a.pk, b.pk}
    assert listed(status="declined") == {c.pk}
    assert listed(severity="major") == {b.pk}
    assert listed(team="platform") == {b.pk, c.pk}
    assert listed(q="replica") == {b.pk}
    assert listed(q=f"INC-{a.pk}") == {a.pk}
    assert listed(team="platform", status="open") == {b.pk}
    today = a.declared_at.date().isoformat()
    assert listed(declared_after=today, declared_before=today) == {a.pk, b.pk, c.pk}
    assert listed(declared_after="2001-01-01", declared_before="2001-01-02") == set()


def test_list_bad_filters_are_shown_not_a_500(member_client, incident):
    response = member_client.get(
        reverse("incidents:list"),
        {"status": "exploded", "declared_after": "not-a-date", "severity": "nope", "page": "x"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert "Enter a valid date" in html
    # Invalid filters are dropped, not applied.
    assert [i.pk for i in response.context["page"].object_list] == [incident.pk]


def test_list_end_before_start_is_an_error(member_client, incident):
    response = member_client.get(
        reverse("incidents:list"), {"declared_after": "2026-02-02", "declared_before": "2026-01-01"}
    )
    assert "The end date is before the start date." in response.content.decode()


def test_list_paginates_25_and_keeps_filters_in_page_links(member_client, member, team):
    for n in range(27):
        services.incident_declare(title=f"Outage {n}", severity="major", actor=member, team=team)
    services.incident_declare(title="Other severity", severity="minor", actor=member, team=team)
    response = member_client.get(reverse("incidents:list"), {"severity": "major", "status": "open"})
    page = response.context["page"]
    assert len(page.object_list) == 25
    assert page.paginator.count == 27
    html = response.content.decode()
    link = re.search(r'href="\?([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert set(link.split("&")) == {"severity=major", "status=open", "page=2"}
    second = member_client.get(reverse("incidents:list") + "?" + link)
    assert len(second.context["page"].object_list) == 2
    assert 'rel="prev"' in second.content.decode()


def test_list_empty_state(member_client):
    html = member_client.get(reverse("incidents:list")).content.decode()
    assert "No incidents yet" in html
    html = member_client.get(reverse("incidents:list"), {"q": "zzz"}).content.decode()
    assert "No incidents match these filters" in html


def test_list_marks_private_incidents_with_a_lock(member_client, private_incident):
    html = member_client.get(reverse("incidents:list")).content.decode()
    assert "badge badge-private" in html


# --- Declare ------------------------------------------------------------------------------------


def field_block(html: str, name: str) -> str:
    """The HTML of the form field wrapper that holds the input called ``name``."""
    match = re.search(
        r'<(div|fieldset) class="field[^"]*">(?:(?!<(?:div|fieldset) class="field[ "]).)*?name="'
        + re.escape(name)
        + r'".*?</\1>',
        html,
        re.S,
    )
    assert match, f"no field {name}"
    return match.group(0)


def test_declare_form_shows_errors_next_to_the_fields_and_creates_nothing(member_client):
    response = member_client.post(reverse("incidents:declare"), {"title": "  ", "severity": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Say in a few words what is wrong." in field_block(html, "title")
    assert "Pick a severity" in html
    assert 'class="field severity-field field-invalid"' in html
    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0


def test_declare_form_maps_service_errors_to_the_field(member_client):
    """An error the service raises (``ValidationError(field="summary")``) appears next to that field."""
    response = member_client.post(
        reverse("incidents:declare"), {"title": "Slow", "severity": "minor", "summary": "x" * 20_001}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Keep this under 20000 characters." in field_block(html, "summary")
    assert Incident.objects.count() == 0


def test_declare_form_refuses_unknown_choices(member_client):
    response = member_client.post(
        reverse("incidents:declare"), {"title": "x", "severity": "apocalyptic", "team": "nope"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in field_block(response.content.decode(), "team")
    assert Incident.objects.count() == 0


def test_declare_creates_the_incident_and_redirects_to_it(member_client, member, team):
    ServiceFactory(slug="checkout", name="Checkout", team=team)
    response = member_client.post(
        reverse("incidents:declare"),
        {
            "title": "Checkout returns 502",
            "severity": "critical",
            "summary": "Since 14:02",
            "team": "payments",
            "services": ["checkout"],
            "customer_impact": "on",
            "lead_me": "on",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    assert incident.title == "Checkout returns 502"
    assert incident.severity.slug == "critical"
    assert incident.team == team
    assert [s.slug for s in incident.services.all()] == ["checkout"]
    assert incident.customer_impact and not incident.private
    assert incident.declared_by == member
    assert kinds(incident) == ["declared", "role_assigned"]
    declared = TimelineEvent.objects.get(incident=incident, kind=EventKind.DECLARED)
    assert declared.source == "web" and declared.actor == member
    assert RoleAssignment.objects.get(incident=incident, role__slug="lead").user == member


def test_declare_with_title_and_severity_only(member_client):
    response = member_client.post(reverse("incidents:declare"), {"title": "Something", "severity": "minor"})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.team is None
    assert kinds(incident) == ["declared"]


def test_declare_prefills_severity_and_team(member_client, team):
    html = member_client.get(reverse("incidents:declare"), {"severity": "major", "team": "payments"}).content
    html = html.decode()
    assert re.search(r'<input type="radio" name="severity" value="major"[^>]*checked', html)
    assert not re.search(r'<input type="radio" name="severity" value="critical"[^>]*checked', html)
    assert re.search(r'<option value="payments" selected>', html)


def test_declare_shows_severity_descriptions(member_client):
    html = member_client.get(reverse("incidents:declare")).content.decode()
    assert "Full outage or data breach" in html
    assert html.count('class="severity-card"') == 3


# --- Incident page -------------------------------------------------------------------------------


def test_detail_shows_header_roles_timeline_and_controls(member_client, incident, member):
    services.incident_add_note(incident=incident, text="Rolled back 14:02", actor=member)
    response = member_client.get(reverse("incidents:detail", args=[incident.pk]))
    html = response.content.decode()
    assert f"INC-{incident.pk}" in html and incident.title in html
    assert 'class="chip sev chip-lg"' in html
    assert 'class="pill status-triage pill-lg"' in html
    assert "Rolled back 14:02" in html
    assert 'data-live-interval="15000"' in html  # the page stays current (incidents.live)
    for label in ("Investigate", "Cause identified", "Resolve", "Decline (false positive)"):
        assert f">{label}</button>" in html
    assert ">Close</button>" not in html  # not allowed from triage
    assert "Incident lead" in html and "Messenger" in html and "Resolution owner" in html
    assert 'data-testid="take-lead"' in html
    assert "Nobody leads this incident" in html  # the no-lead hint
    assert 'id="note-form"' in html and 'id="update-form"' in html


def test_detail_next_action_hints(member_client, member, team):
    incident = services.incident_declare(
        title="x", severity="major", actor=member, team=team, customer_impact=True, lead=member
    )
    url = reverse("incidents:detail", args=[incident.pk])
    html = member_client.get(url).content.decode()
    assert "Nobody leads this incident" not in html
    assert "Nobody talks to customers" in html
    services.incident_assign_role(incident=incident, role="messenger", user=member, actor=member)
    services.incident_transition(incident=incident, to="resolved", actor=member)
    html = member_client.get(url).content.decode()
    assert "Nobody talks to customers" not in html
    assert "close it or write the postmortem" in html


def test_detail_hides_controls_from_users_who_cannot_act(client, outsider, incident):
    client.force_login(outsider)
    html = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'data-testid="to-investigating"' not in html
    assert 'data-testid="take-lead"' not in html
    assert 'id="update-form"' not in html
    assert 'id="severity-select"' not in html
    assert 'id="note-form"' in html  # anyone who can see may add a note
    assert "Only members of the incident's team" in html


def test_assign_select_lists_team_members_first(member_client, incident, member, team):
    MembershipFactory(team=team, user=UserFactory(username="zed", first_name="Zed", last_name="Z"))
    UserFactory(username="amy", first_name="Amy", last_name="A")
    html = member_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    select = re.search(r'<select id="assign-lead".*?</select>', html, re.S).group(0)
    assert select.index("(zed)") < select.index("(amy)")
    assert '<optgroup label="Payments">' in select and '<optgroup label="Everyone else">' in select


def test_timeline_shows_old_and_new_values(member_client, incident, member):
    services.incident_transition(incident=incident, to="investigating", actor=member, reason="Looking")
    services.incident_change_severity(incident=incident, severity="major", actor=member)
    services.incident_update(incident=incident, title="Checkout partly down", actor=member)
    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    html = member_client.get(reverse("incidents:timeline", args=[incident.pk])).content.decode()
    assert re.search(r"status-triage.*?→.*?status-investigating", html, re.S)
    assert "Looking" in html
    assert re.search(r"Critical.*?→.*?Major", html, re.S)
    assert "<del>Checkout is down</del>" in html and "<ins>Checkout partly down</ins>" in html
    assert "took the incident lead role" in html
    carol = UserFactory(username="carol", first_name="Carol", last_name="Silva")
    services.incident_assign_role(incident=incident, role="lead", user=carol, actor=member)
    html = member_client.get(reverse("incidents:timeline", args=[incident.pk])).content.decode()
    assert "made <strong>Carol Silva</strong> incident lead" in html
    assert f"(handed over from {member.get_full_name()})" in html
    # Newest last.
    assert html.index("declared the incident") < html.index("changed the status")


def fresh(incident, data: dict) -> dict:
    """``data`` with the incident's current version, as a form rendered now carries it."""
    return {**data, "version": Incident.objects.get(pk=incident.pk).version}


# --- Action views, with and without htmx --------------------------------------------------------


def action_cases(incident, member):
    """(action, POST data, check after) for each action view."""
    return [
        ("transition", {"to": "investigating", "reason": "On it"}, lambda i: i.status == "investigating"),
        ("severity", {"severity": "major", "reason": "Fewer users"}, lambda i: i.severity.slug == "major"),
        (
            "assign_role",
            {"role": "lead", "user": member.pk},
            lambda i: i.role_assignments.filter(role__slug="lead", relieved_at__isnull=True).exists(),
        ),
        ("note", {"text": "Rolled back"}, lambda i: i.events.filter(kind="note_added").exists()),
        ("update_post", {"text": "We are on it"}, lambda i: i.events.filter(kind="update_posted").exists()),
        (
            "edit",
            {"title": "New title", "summary": "More", "team": "payments", "customer_impact": "on"},
            lambda i: i.title == "New title" and i.customer_impact,
        ),
    ]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_each_action_works_with_and_without_htmx(member_client, incident, member, htmx):
    extra = HX if htmx else {}
    for name, data, check in action_cases(incident, member):
        url = reverse(f"incidents:{name}", args=[incident.pk])
        response = member_client.post(url, fresh(incident, data), **extra)
        incident.refresh_from_db()
        assert check(incident), name
        if htmx:
            assert response.status_code == 200, name
            html = response.content.decode()
            assert 'hx-swap-oob="true"' in html
            assert 'id="timeline"' in html, name
            assert 'id="messages"' in html, name
        else:
            assert response.status_code == 302, name
            assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    # Relieve last: it needs the lead assigned above.
    url = reverse("incidents:relieve_role", args=[incident.pk])
    response = member_client.post(url, fresh(incident, {"role": "lead"}), **extra)
    assert response.status_code == (200 if htmx else 302)
    assert not incident.role_assignments.filter(relieved_at__isnull=True).exists()
    assert set(kinds(incident)) >= {
        "declared",
        "status_changed",
        "severity_changed",
        "role_assigned",
        "role_relieved",
        "note_added",
        "update_posted",
        "fields_changed",
    }
    assert set(TimelineEvent.objects.filter(incident=incident).values_list("source", flat=True)) == {"web"}


def test_htmx_transition_rerenders_header_sidebar_and_timeline(member_client, incident):
    response = member_client.post(
        reverse("incidents:transition", args=[incident.pk]), fresh(incident, {"to": "investigating"}), **HX
    )
    html = response.content.decode()
    for region in ("incident-header", "incident-sidebar", "timeline", "messages"):
        assert re.search(rf'id="{region}"[^>]*hx-swap-oob="true"', html), region
    assert "pill status-investigating pill-lg" in html
    assert f"INC-{incident.pk} is now investigating." in html


def test_htmx_note_rerenders_the_timeline_and_a_blank_form(member_client, incident):
    response = member_client.post(
        reverse("incidents:note", args=[incident.pk]), fresh(incident, {"text": "Rolled back"}), **HX
    )
    html = response.content.decode()
    assert "Rolled back" in html
    form = re.search(r'<form id="note-form".*?</form>', html, re.S).group(0)
    assert "Rolled back" not in form
    assert 'id="incident-sidebar"' not in html  # only what changed


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_refused_transition_shows_the_error_and_changes_nothing(member_client, incident, htmx):
    before = kinds(incident)
    url = reverse("incidents:transition", args=[incident.pk])
    if htmx:
        response = member_client.post(url, fresh(incident, {"to": "closed"}), **HX)
        assert response.status_code == 200
        html = response.content.decode()
    else:
        response = member_client.post(url, fresh(incident, {"to": "closed"}), follow=True)
        assert response.redirect_chain[-1][0] == reverse("incidents:detail", args=[incident.pk])
        html = response.content.decode()
    assert "Cannot move from triage to closed" in html
    assert "toast-error" in html
    incident.refresh_from_db()
    assert incident.status == "triage"
    assert kinds(incident) == before


def test_unknown_status_is_a_message_not_a_500(member_client, incident):
    response = member_client.post(
        reverse("incidents:transition", args=[incident.pk]), fresh(incident, {"to": "exploded"}), follow=True
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "triage"


def test_acting_without_permission_is_a_message_and_changes_nothing(client, outsider, incident):
    client.force_login(outsider)
    before = kinds(incident)
    response = client.post(
        reverse("incidents:transition", args=[incident.pk]), fresh(incident, {"to": "investigating"}), **HX
    )
    assert response.status_code == 200
    assert "Only members of the incident&#x27;s team" in response.content.decode()
    response = client.post(
        reverse("incidents:edit", args=[incident.pk]), fresh(incident, {"title": "Hijacked"}), follow=True
    )
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "triage"
    assert incident.title == "Checkout is down"
    assert kinds(incident) == before


def test_same_severity_is_a_message(member_client, incident):
    response = member_client.post(
        reverse("incidents:severity", args=[incident.pk]),
        fresh(incident, {"severity": "critical"}),
        follow=True,
    )
    assert "The incident is already Critical." in response.content.decode()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_empty_note_shows_the_error_next_to_the_field(member_client, incident, htmx):
    url = reverse("incidents:note", args=[incident.pk])
    response = member_client.post(url, {"text": "   "}, **(HX if htmx else {}))
    assert response.status_code == (200 if htmx else 400)
    form = re.search(r'<form id="note-form".*?</form>', response.content.decode(), re.S).group(0)
    assert "Write something first." in form
    assert not incident.events.filter(kind="note_added").exists()


def test_edit_errors_are_shown_next_to_the_field(member_client, incident):
    response = member_client.post(
        reverse("incidents:edit", args=[incident.pk]), fresh(incident, {"title": ""})
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in field_block(html, "title")
    assert re.search(r'<details class="edit-details" open>', html)
    incident.refresh_from_db()
    assert incident.title == "Checkout is down"


def test_assign_role_to_another_user_and_take_it(member_client, incident, member, team):
    carol = MembershipFactory(team=team, user=UserFactory(username="carol", first_name="Carol")).user
    url = reverse("incidents:assign_role", args=[incident.pk])
    response = member_client.post(url, fresh(incident, {"role": "messenger", "user": carol.pk}), **HX)
    assert 'data-testid="holder-messenger"><span class="avatar avatar-sm"' in response.content.decode()
    assert RoleAssignment.objects.get(incident=incident, relieved_at__isnull=True).user == carol
    member_client.post(url, fresh(incident, {"role": "messenger", "user": member.pk}), **HX)
    holders = RoleAssignment.objects.filter(incident=incident, role__slug="messenger")
    assert [(a.user.username, a.relieved_at is None) for a in holders.order_by("id")] == [
        ("carol", False),
        ("bob", True),
    ]
    html = member_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Hand-off history (1)" in html


def test_assign_role_to_an_inactive_or_unknown_user_is_refused(member_client, incident):
    ghost = UserFactory(username="ghost", is_active=False)
    for user_id in (ghost.pk, 987654, "abc"):
        response = member_client.post(
            reverse("incidents:assign_role", args=[incident.pk]),
            fresh(incident, {"role": "lead", "user": user_id}),
            **HX,
        )
        assert response.status_code == 200
        assert "Choose an active user." in response.content.decode()
    assert not RoleAssignment.objects.filter(incident=incident).exists()


def test_making_an_incident_private_as_a_non_participant_leaves_the_page(client, outsider, member):
    """Without a team anyone who sees an incident may act; making it private hides it from a non-participant."""
    incident = services.incident_declare(title="No team yet", severity="minor", actor=member)
    client.force_login(outsider)
    response = client.post(
        reverse("incidents:edit", args=[incident.pk]),
        fresh(incident, {"title": "No team yet", "private": "on"}),
        **HX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("incidents:list")
    incident.refresh_from_db()
    assert incident.private


# --- Fragments for the team pages -----------------------------------------------------------------


def test_team_open_incidents_fragment(member_client, member, team):
    open_one = services.incident_declare(title="Checkout down", severity="critical", actor=member, team=team)
    closed = services.incident_declare(title="Old outage", severity="minor", actor=member, team=team)
    services.incident_transition(incident=closed, to="declined", actor=member)
    services.incident_declare(title="Other team", severity="minor", actor=member)
    html = member_client.get(reverse("incidents:team_open", args=[team.slug]), **HX).content.decode()
    assert open_one.title in html
    assert closed.title not in html and "Other team" not in html
    assert "<html" not in html  # a fragment, not a page
    empty = member_client.get(reverse("incidents:team_open", args=["nobody"])).content.decode()
    assert "No open incidents for this team." in empty


def test_team_open_counts_fragment(member_client, member, team):
    TeamFactory(slug="platform", name="Platform")
    services.incident_declare(title="a", severity="critical", actor=member, team=team)
    services.incident_declare(title="b", severity="major", actor=member, team=team)
    html = member_client.get(
        reverse("incidents:team_counts"), {"teams": "payments,platform"}
    ).content.decode()
    assert re.search(r'<a id="open-count-payments"[^>]*hx-swap-oob="true">2 open incidents</a>', html)
    assert re.search(r'<span id="open-count-platform"[^>]*hx-swap-oob="true">No open incidents</span>', html)


def test_team_fragments_require_sign_in(client, team):
    for url in (reverse("incidents:team_open", args=["payments"]), reverse("incidents:team_counts")):
        assert client.get(url).status_code == 302


# --- Private incidents ----------------------------------------------------------------------------


def test_private_incident_is_a_404_for_an_outsider_everywhere(client, outsider, private_incident, member):
    client.force_login(outsider)
    pk = private_incident.pk
    assert client.get(reverse("incidents:detail", args=[pk])).status_code == 404
    assert client.get(reverse("incidents:timeline", args=[pk])).status_code == 404
    for name, data, _ in action_cases(private_incident, member):
        for extra in ({}, HX):
            response = client.post(reverse(f"incidents:{name}", args=[pk]), data, **extra)
            assert response.status_code == 404, name
    assert client.post(reverse("incidents:relieve_role", args=[pk]), {"role": "lead"}).status_code == 404
    private_incident.refresh_from_db()
    assert private_incident.status == "triage"
    assert kinds(private_incident) == ["declared"]


def test_private_incident_is_absent_from_list_dashboard_search_and_counts(client, outsider, private_incident):
    client.force_login(outsider)
    for url, params in (
        (reverse("incidents:list"), {}),
        (reverse("incidents:list"), {"q": "signing key"}),
        (reverse("incidents:list"), {"q": f"INC-{private_incident.pk}"}),
        (reverse("incidents:list"), {"status": "open", "team": "payments"}),
        (reverse("incidents:dashboard"), {}),
        (reverse("incidents:team_open", args=["payments"]), {}),
        (reverse("incidents:team_counts"), {"teams": "payments"}),
    ):
        html = client.get(url, params).content.decode()
        assert "Leaked signing key" not in html, url
        assert f'href="/incidents/{private_incident.pk}/"' not in html, url
    dashboard = client.get(reverse("incidents:dashboard"))
    assert dashboard.context["total"] == 0
    assert 'data-testid="empty-state"' in dashboard.content.decode()
    counts = client.get(reverse("incidents:team_counts"), {"teams": "payments"}).content.decode()
    assert "No open incidents" in counts


def test_private_incident_is_visible_to_its_team(member_client, private_incident):
    assert member_client.get(reverse("incidents:detail", args=[private_incident.pk])).status_code == 200
    html = member_client.get(reverse("incidents:list")).content.decode()
    assert "Leaked signing key" in html


# --- Query counts ---------------------------------------------------------------------------------


def make_incidents(n, member, team):
    made = []
    for i in range(n):
        incident = services.incident_declare(
            title=f"Outage {i}",
            severity=["critical", "major", "minor"][i % 3],
            actor=member,
            team=team if i % 2 else None,
            services=[ServiceFactory(team=team)],
            lead=member,
            customer_impact=bool(i % 2),
        )
        services.incident_add_note(incident=incident, text="note", actor=member)
        made.append(incident)
    return made


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name", ["incidents:list", "incidents:dashboard"])
def test_list_pages_run_a_constant_number_of_queries(
    member_client, member, team, url_name, django_assert_num_queries
):
    make_incidents(3, member, team)
    url = reverse(url_name)
    small = count_queries(member_client, url)
    make_incidents(20, member, team)
    with django_assert_num_queries(small):
        member_client.get(url)


def test_detail_page_runs_a_constant_number_of_queries(
    member_client, member, team, django_assert_num_queries
):
    first = make_incidents(3, member, team)[1]
    url = reverse("incidents:detail", args=[first.pk])
    small = count_queries(member_client, url)
    make_incidents(20, member, team)
    # More events, people and hand-offs on this incident do not add queries either.
    for n in range(10):
        user = MembershipFactory(team=team).user
        services.incident_assign_role(incident=first, role="messenger", user=user, actor=member)
        services.incident_add_note(incident=first, text=f"note {n}", actor=member)
    services.incident_transition(incident=first, to="investigating", actor=member)
    with django_assert_num_queries(small):
        member_client.get(url)


# --- Sign-in pages --------------------------------------------------------------------------------


def test_login_page_in_the_product_layout(client):
    html = client.get(reverse("account_login")).content.decode()
    assert "Sign in to Muster" in html
    assert 'name="login"' in html and 'name="password"' in html
    assert "css/muster.css" in html
    assert "Sign in with" not in html


def test_login_page_offers_sso_when_enabled(client, settings):
    settings.OIDC_SERVER_URL = "https://idp.example.com"
    settings.OIDC_PROVIDER_ID = "okta"
    html = client.get(reverse("account_login")).content.decode()
    assert '<form method="post" action="/accounts/oidc/okta/login/"' in html
    assert "Sign in with" in html


def test_sign_in_and_out(client, member):
    member.set_password("pw-123456")
    member.save()
    response = client.post(reverse("account_login"), {"login": "bob", "password": "wrong"})
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()
    response = client.post(reverse("account_login"), {"login": "bob", "password": "pw-123456"})
    assert response.status_code == 302
    assert client.get(reverse("incidents:dashboard")).status_code == 200
    assert "Sign out?" in client.get(reverse("account_logout")).content.decode()
    client.post(reverse("account_logout"))
    assert client.get(reverse("incidents:dashboard")).status_code == 302


# --- Template tags (core/templatetags/muster.py) --------------------------------------------------


def test_severity_chip_keeps_only_hex_colours():
    from types import SimpleNamespace

    from core.templatetags.muster import severity_chip

    chip = severity_chip(SimpleNamespace(name="<b>Bad</b>", colour="red; background:url(x)"))
    assert "--sev: #6b7280" in chip
    assert "&lt;b&gt;Bad&lt;/b&gt;" in chip
    assert "--sev: #dc2626" in severity_chip(SimpleNamespace(name="Critical", colour="#dc2626"))


def test_status_pill_and_reltime_and_duration():
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone

    from core.templatetags.muster import duration, relative, reltime, status_pill

    assert status_pill("investigating") == (
        '<span class="pill status-investigating" data-status="investigating">'
        '<span class="pill-dot" aria-hidden="true"></span>Investigating</span>'
    )
    moment = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
    html = reltime(moment)
    assert 'title="2026-11-23 14:05 UTC"' in html
    assert 'datetime="2026-11-23T14:05:00+00:00"' in html
    assert relative(moment, now=moment + timedelta(seconds=10)) == "just now"
    assert relative(moment, now=moment + timedelta(minutes=5)) == "5 min ago"
    assert relative(moment, now=moment + timedelta(hours=3)) == "3 h ago"
    assert relative(moment, now=moment + timedelta(days=1, hours=2)) == "yesterday"
    assert relative(moment, now=moment + timedelta(days=4)) == "4 d ago"
    assert relative(moment, now=moment + timedelta(days=40)) == "2026-11-23"
    assert duration(timedelta(hours=2, minutes=5)) == "2h 5m"
    assert duration(moment, moment + timedelta(minutes=4, seconds=10)) == "4m 10s"
    assert duration(timezone.now() - timedelta(days=3, hours=4)) == "3d 4h"
    assert duration(None) == ""


def test_closed_incident_offers_no_role_changes(member_client, member, incident):
    from django.urls import reverse

    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    page = member_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert reverse("incidents:relieve_role", args=[incident.pk]) in page
    for status in ("resolved", "closed"):
        services.incident_transition(incident=incident, to=status, actor=member)
    page = member_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert reverse("incidents:relieve_role", args=[incident.pk]) not in page
    assert reverse("incidents:assign_role", args=[incident.pk]) not in page
