"""Nobody left unpaged: the "nobody has been paged" warning in the incident header (``paging.hints``), its one-click
page through ``paging.services.page_create``, and the navigation's count of the pages ringing for me."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.models import ConsumerRun, Incident, TimelineEvent
from paging import services
from paging.hints import CODE, unpaged_hints
from paging.models import Page
from paging.selectors import ringing_count
from teams.models import Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def platform(db):
    return TeamFactory(name="Platform", slug="platform")


def loaded(incident, user):
    """The incident as the incident page loads it."""
    return incident_selectors.incident_get(user=user, pk=incident.pk)


def warning(incident, user):
    found = unpaged_hints(loaded(incident, user), user)
    assert len(found) <= 1
    return found[0] if found else None


def settle(incident):
    """As if the incident's timeline consumers had run (in these tests nothing commits, so they never do)."""
    ConsumerRun.objects.filter(event__incident=incident).update(status=ConsumerRun.Status.DONE)


@pytest.fixture
def run_consumers(django_capture_on_commit_callbacks):
    def go(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return go


def declare(member, **kwargs):
    kwargs.setdefault("severity", "critical")
    return incident_services.incident_declare(title="Checkout is down", actor=member, **kwargs)


# --- When it shows -----------------------------------------------------------------------------------


def test_a_critical_incident_nobody_is_paged_for_warns_with_a_one_click_page_of_its_team(incident, member):
    hint = warning(incident, member)
    assert hint.code == CODE and hint.level == "danger" and hint.title == "Nobody has been paged"
    (action,) = hint.actions
    assert action.label == "Page the on-call of Payments" and action.method == "post"
    assert action.url == reverse("paging:page_create", args=[incident.pk])
    assert dict(action.fields)["team"] == "payments" and action.select is None


def test_without_a_team_it_offers_a_team_chooser(member, team, platform):
    incident = declare(member)
    hint = warning(incident, member)
    assert "It has no team" in hint.text
    (action,) = hint.actions
    assert action.select.name == "team"
    assert action.select.choices == (("payments", "Payments"), ("platform", "Platform"))


def test_the_teams_of_its_services_are_offered_after_its_own(member, team, platform):
    search = TeamFactory(name="Search", slug="search")
    services_ = [ServiceFactory(team=platform, slug="db"), ServiceFactory(team=search, slug="idx")]
    services_.append(ServiceFactory(team=team, slug="checkout"))
    incident = declare(member, team=team, services=services_)
    labels = [a.label for a in warning(incident, member).actions]
    assert labels == [
        "Page the on-call of Payments",
        "Page the on-call of Platform",
        "Page the on-call of Search",
    ]
    assert [a.primary for a in warning(incident, member).actions] == [True, False, False]


def test_a_major_incident_warns_only_where_configured_or_where_its_team_pages_at_major(
    member, team, settings
):
    incident = declare(member, severity="major", team=team)
    assert warning(incident, member) is None  # the default: critical
    settings.PAGING_WARN_SEVERITY = "major"
    assert warning(incident, member) is not None
    settings.PAGING_WARN_SEVERITY = "critical"
    lead = MembershipFactory(team=team, user=UserFactory(username="lea"), role=Membership.Role.LEAD).user
    services.escalation_policy_create(
        team=team,
        name="Default",
        actor=lead,
        is_default=True,
        auto_page_severity="major",
        steps=[{"target": "team", "wait_minutes": 5}],
    )
    settle(incident)
    # The automatic page's rule: the team pages at major.
    assert warning(incident, member).title == "Nobody has been paged"
    minor = declare(member, severity="minor", team=team)
    assert warning(minor, member) is None


def auto_paging_team(team):
    lead = MembershipFactory(team=team, user=UserFactory(username="lea"), role=Membership.Role.LEAD).user
    services.escalation_policy_create(
        team=team,
        name="Default",
        actor=lead,
        is_default=True,
        auto_page_severity="critical",
        steps=[{"target": "team", "wait_minutes": 5}],
    )


def test_just_declared_for_a_team_that_auto_pages_it_says_the_page_is_on_its_way(member, team, settings):
    auto_paging_team(team)
    incident = declare(member, team=team)  # its consumers have not run yet (no commit in this test)
    hint = warning(incident, member)
    assert hint.level == "info" and hint.title == "Paging the on-call of Payments" and hint.actions == ()
    # A worker that is down: past the consumers' grace the warning is back, with the button.
    ConsumerRun.objects.filter(event__incident=incident).update(
        created_at=timezone.now() - timedelta(seconds=settings.TIMELINE_CONSUMER_GRACE_SECONDS + 1)
    )
    hint = warning(incident, member)
    assert hint.level == "danger" and hint.actions[0].label == "Page the on-call of Payments"


def test_raised_to_a_severity_the_team_pages_for_the_page_is_on_its_way(member, team, platform):
    auto_paging_team(team)
    incident = declare(member, severity="major", team=team)
    settle(incident)
    assert warning(incident, member) is None
    incident_services.incident_change_severity(incident=incident, severity="critical", actor=member)
    assert warning(incident, member).level == "info"
    settle(incident)
    assert warning(incident, member).level == "danger"
    # The team chosen later: the same.
    teamless = declare(member)
    settle(teamless)
    assert warning(teamless, member).level == "danger"
    incident_services.incident_update(incident=teamless, team=team, actor=member)
    assert warning(teamless, member).level == "info"


def test_an_edit_that_does_not_page_is_not_an_automatic_page_on_its_way(member, team):
    auto_paging_team(team)
    incident = declare(member, team=team)
    settle(incident)
    incident_services.incident_update(incident=incident, title="Checkout is down hard", actor=member)
    assert ConsumerRun.objects.filter(event__incident=incident, status="pending").exists()
    assert warning(incident, member).level == "danger"


def test_the_automatic_page_agrees_once_it_has_run(run_consumers, member, team):
    auto_paging_team(team)
    incident = run_consumers(
        incident_services.incident_declare, title="Down", severity="critical", actor=member, team=team
    )
    assert Page.objects.filter(incident=incident, team=team).exists()
    assert warning(incident, member) is None


def test_an_unknown_configured_severity_only_leaves_the_teams_rule(incident, member, settings):
    settings.PAGING_WARN_SEVERITY = "nope"
    assert warning(incident, member) is None


def test_a_ringing_or_acknowledged_page_ends_the_warning_an_unanswered_one_does_not(
    incident, member, other_user
):
    page = services.page_create(incident=incident, user=other_user, actor=member)
    assert warning(incident, member) is None  # a page to anyone: someone is being paged
    services.page_acknowledge(page=page, actor=other_user)
    assert warning(incident, member) is None
    Page.objects.filter(pk=page.pk).update(status=Page.Status.EXHAUSTED)
    hint = warning(incident, member)
    assert hint.title == "Nobody answered the page"


def test_no_warning_once_the_incident_is_no_longer_open(incident, member, django_assert_num_queries):
    incident_services.incident_transition(incident=incident, to="resolved", actor=member)
    fresh = loaded(incident, member)
    with django_assert_num_queries(0):
        assert unpaged_hints(fresh, member) == []


def test_someone_who_cannot_act_sees_the_warning_without_the_button(incident):
    outsider = UserFactory(username="olga")
    hint = warning(incident, outsider)
    assert hint.actions == () and "Ask someone on the incident" in hint.text


def test_the_warning_costs_a_query_or_two_and_one_once_someone_is_paged(
    incident, member, other_user, django_assert_num_queries
):
    fresh = loaded(incident, member)
    incident_selectors.current_roles(fresh)
    from incidents.permissions import can_act

    can_act(member, fresh)
    with django_assert_num_queries(1):  # the pages and thresholds together; the team is the incident's own
        assert unpaged_hints(fresh, member)[0].actions[0].label == "Page the on-call of Payments"
    teamless = loaded(declare(member), member)
    can_act(member, teamless)
    with django_assert_num_queries(2):  # and the teams of the chooser
        assert unpaged_hints(teamless, member)[0].actions[0].select
    services.page_create(incident=incident, user=other_user, actor=member)
    with django_assert_num_queries(1):
        assert unpaged_hints(fresh, member) == []


# --- In the header, and the one-click page --------------------------------------------------------


def page_url(incident):
    return reverse("paging:page_create", args=[incident.pk])


def test_the_header_shows_the_warning_with_a_form_that_carries_the_version(web, incident):
    html = web.get(incident.get_absolute_url()).content.decode()
    assert f'data-testid="hint-{CODE}"' in html and 'class="next-action hint hint-danger"' in html
    start = html.index('data-testid="hint-paging.unpaged"')
    block = html[start : html.index("</form>", start)]
    assert f'action="{page_url(incident)}"' in block
    assert f'name="version" value="{incident.version}"' in block
    assert 'name="team" value="payments"' in block and "Page the on-call of Payments" in block


def test_the_one_click_page_pages_the_team_records_it_and_the_warning_goes(web, incident, member):
    response = web.post(
        page_url(incident),
        {"team": "payments", "reason": "Critical incident with nobody paged.", "version": incident.version},
    )
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
    page = Page.objects.get(incident=incident)
    assert (page.team.slug, page.status, page.created_by) == ("payments", Page.Status.TRIGGERED, member)
    event = TimelineEvent.objects.get(incident=incident, kind="paged")
    assert event.actor == member and event.source == "web" and event.data["team"] == "payments"
    html = web.get(incident.get_absolute_url()).content.decode()
    assert f'data-testid="hint-{CODE}"' not in html
    assert f'id="page-{page.pk}"' in html  # the paging panel shows it


def test_the_team_chooser_pages_the_chosen_team(web, member, team, platform):
    incident = declare(member)
    html = web.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="hint-page-team-select"' in html
    web.post(page_url(incident), {"team": "platform", "version": incident.version})
    assert Page.objects.get(incident=incident).team == platform
    assert Incident.objects.get(pk=incident.pk).team is None  # paging a team does not make it the incident's


def test_a_stale_one_click_page_is_refused_when_the_team_was_paged_since(web, incident, member):
    shown = incident.version
    services.page_create(incident=incident, team=incident.team, actor=member)  # someone else, just now
    response = web.post(page_url(incident), {"team": "payments", "version": shown}, follow=True)
    assert response.status_code == 200
    said = " ".join(str(m) for m in response.context["messages"])
    assert "paged the Payments team" in said
    assert Page.objects.filter(incident=incident).count() == 1


def test_a_one_click_page_without_a_version_is_refused(web, incident):
    response = web.post(page_url(incident), {"team": "payments"}, follow=True)
    assert "out of date" in " ".join(str(m) for m in response.context["messages"])
    assert not Page.objects.exists()


# --- The navigation's badge --------------------------------------------------------------------------


def test_ringing_counts_the_triggered_pages_that_reached_me(incident, member, other_user, platform):
    assert ringing_count(user=member) == 0
    to_me = services.page_create(incident=incident, user=member, actor=member)
    assert ringing_count(user=member) == 1
    services.page_create(incident=incident, team=incident.team, actor=member)  # notifies the team: bob
    assert ringing_count(user=member) == 2
    assert ringing_count(user=other_user) == 0
    services.page_acknowledge(page=to_me, actor=member)
    assert ringing_count(user=member) == 1
    Page.objects.filter(incident=incident).update(status=Page.Status.EXHAUSTED)
    assert ringing_count(user=member) == 0


def test_ringing_is_one_query_and_none_without_a_signed_in_person(
    incident, member, other_user, django_assert_num_queries
):
    from django.contrib.auth.models import AnonymousUser

    services.page_create(incident=incident, user=member, actor=member)
    services.page_create(incident=incident, team=incident.team, actor=member)
    with django_assert_num_queries(1):
        assert ringing_count(user=member) == 2
    with django_assert_num_queries(0):
        assert ringing_count(user=AnonymousUser()) == 0


def test_the_navigation_shows_my_ringing_pages(web, incident, member):
    html = web.get(reverse("incidents:list")).content.decode()
    assert 'data-testid="nav-badge-pages"' not in html and ">My pages" in html
    services.page_create(incident=incident, user=member, actor=member)
    html = web.get(reverse("incidents:list")).content.decode()
    assert 'data-testid="nav-badge-pages">1<span class="sr-only"> ringing</span>' in html


def test_the_badge_costs_the_page_one_query(web, incident, member):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(reverse("incidents:list")).status_code == 200
        return len(ctx.captured_queries)

    with_badge = queries()
    from core import slots

    entry = next(e for e in slots.nav_entries() if e.name == "pages")
    slots.unregister_nav("pages")
    try:
        without = queries()
    finally:
        slots._nav["main:pages"] = entry
    assert with_badge - without == 1
