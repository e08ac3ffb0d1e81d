"""The hint registry and the core's hints in the incident header: no lead, no messenger, resolved but not closed;
and the final customer update the page asks for on resolve (prefilled, skippable, once)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import hints, selectors, services
from incidents.hints import Hint, HintAction, core_hints, incident_hints
from incidents.models import EventKind, Incident, TimelineEvent
from incidents.views import FINAL_UPDATE_TEXT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def codes(found) -> list[str]:
    return [h.code for h in found]


def fresh(incident, user):
    return selectors.incident_get(user=user, pk=incident.pk)


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def outsider(db):
    return UserFactory(username="olga")


# --- The registry ------------------------------------------------------------------------------------


@pytest.fixture
def scratch_registry(monkeypatch):
    """An empty registry for the test, the real one put back after."""
    monkeypatch.setattr(hints, "_registry", {})
    return hints


def test_hints_come_most_urgent_first_then_by_the_order_they_were_registered_with(scratch_registry, incident):
    scratch_registry.register_hints(
        "late", lambda i, u: [Hint("info", "late-info", "i"), Hint("danger", "late-danger", "d")], order=90
    )
    scratch_registry.register_hints("early", lambda i, u: [Hint("warn", "early-warn", "w")], order=10)
    scratch_registry.register_hints("none", lambda i, u: [], order=1)
    assert codes(incident_hints(incident, None)) == ["late-danger", "early-warn", "late-info"]
    assert scratch_registry.registered() == ["none", "early", "late"]
    scratch_registry.unregister_hints("late")
    assert codes(incident_hints(incident, None)) == ["early-warn"]


def test_a_failing_hint_function_is_left_out_and_logged_not_a_broken_page(scratch_registry, incident, caplog):
    def broken(incident, user):
        raise RuntimeError("boom")

    scratch_registry.register_hints("broken", broken)
    scratch_registry.register_hints("fine", lambda i, u: [Hint("warn", "fine", "ok")])
    assert codes(incident_hints(incident, None)) == ["fine"]
    assert "broken" in caplog.text and "boom" in caplog.text


def test_a_hint_has_a_known_level_and_an_action_is_a_link_or_a_form():
    with pytest.raises(ValueError):
        Hint("urgent", "x", "y")
    with pytest.raises(ValueError):
        HintAction(label="x", url="/", method="delete")


def test_every_app_registers_its_hints():
    assert {"incidents.core", "paging.unpaged", "notifications.update_overdue"} <= set(hints.registered())


def test_ago_words_a_duration_short():
    now = timezone.now()
    assert hints.ago(now - timedelta(seconds=30)) == "0 min"
    assert hints.ago(now - timedelta(minutes=42, seconds=5)) == "42 min"
    assert hints.ago(now - timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert hints.ago(now - timedelta(hours=3)) == "3 h"
    assert hints.ago(now - timedelta(days=1, hours=2)) == "1 day"
    assert hints.ago(now - timedelta(days=3)) == "3 days"


# --- The core's hints --------------------------------------------------------------------------------


def test_no_lead_is_said_with_a_one_click_i_will_lead_until_someone_leads(incident, member):
    found = core_hints(fresh(incident, member), member)
    assert codes(found) == ["no-lead"]
    (hint,) = found
    assert hint.title == "Nobody leads this incident" and hint.level == "warn"
    take = hint.actions[0]
    assert take.label == "I'll lead" and take.method == "post" and take.htmx
    assert take.url == reverse("incidents:assign_role", args=[incident.pk])
    assert dict(take.fields) == {"role": "lead", "user": str(member.pk)}
    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    assert core_hints(fresh(incident, member), member) == []


def test_no_messenger_only_while_customers_are_affected(member, team):
    incident = services.incident_declare(title="x", severity="major", actor=member, team=team, lead=member)
    assert core_hints(fresh(incident, member), member) == []
    services.incident_update(incident=incident, customer_impact=True, actor=member)
    assert codes(core_hints(fresh(incident, member), member)) == ["no-messenger"]
    services.incident_assign_role(incident=incident, role="messenger", user=member, actor=member)
    assert core_hints(fresh(incident, member), member) == []


def test_someone_who_cannot_act_is_told_without_the_buttons(incident, outsider):
    (hint,) = core_hints(fresh(incident, outsider), outsider)
    assert hint.code == "no-lead" and hint.actions == ()


def test_resolved_but_not_closed_says_since_when_and_offers_close(incident, member):
    services.incident_transition(incident=incident, to="resolved", actor=member)
    (hint,) = core_hints(fresh(incident, member), member)
    assert hint.title == "Resolved just now: close it or write the postmortem"
    Incident.objects.filter(pk=incident.pk).update(
        resolved_at=timezone.now() - timedelta(minutes=12, seconds=3)
    )
    (hint,) = core_hints(fresh(incident, member), member)
    assert hint.code == "resolved-not-closed" and hint.level == "info"
    assert hint.title == "Resolved 12 min ago: close it or write the postmortem"
    assert dict(hint.actions[0].fields) == {"to": "closed"}
    services.incident_transition(incident=incident, to="closed", actor=member)
    assert core_hints(fresh(incident, member), member) == []


def test_the_core_hints_cost_no_query_on_the_loaded_incident(incident, member, django_assert_num_queries):
    from incidents import permissions

    loaded = fresh(incident, member)
    assert permissions.can_act(member, loaded)  # as the page does first (the person's teams, cached on them)
    with django_assert_num_queries(0):
        assert codes(core_hints(loaded, member)) == ["no-lead"]


# --- In the header -----------------------------------------------------------------------------------


def test_the_header_shows_the_hints_with_their_one_click_forms(member_client, incident):
    html = member_client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="hint-no-lead"' in html and "Nobody leads this incident" in html
    assert 'data-testid="hint-take-lead"' in html
    # The one-click form carries the version the page was rendered with.
    form = html[html.index('data-testid="hint-no-lead"') :]
    form = form[: form.index("</form>")]
    assert f'name="version" value="{incident.version}"' in form
    assert 'name="role" value="lead"' in form


def test_i_will_lead_from_the_hint_makes_me_lead_and_the_hint_goes(member_client, incident, member):
    url = reverse("incidents:assign_role", args=[incident.pk])
    response = member_client.post(
        url, {"role": "lead", "user": member.pk, "version": incident.version}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="incident-header"' in html and "Nobody leads this incident" not in html
    assert selectors.incident_lead(fresh(incident, member)) == member


def test_the_poll_renders_the_hints_with_the_header(member_client, incident):
    url = reverse("incidents:timeline", args=[incident.pk])
    html = member_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="hint-no-lead"' in html


# --- The final customer update, asked for on resolve ------------------------------------------------


@pytest.fixture
def impact(member, team):
    return services.incident_declare(
        title="Checkout down", severity="major", actor=member, team=team, customer_impact=True, lead=member
    )


def resolve(client, incident, **extra):
    incident.refresh_from_db()
    return client.post(
        reverse("incidents:transition", args=[incident.pk]),
        {"to": "resolved", "version": incident.version},
        **extra,
    )


def test_resolving_asks_for_the_final_customer_update_prefilled(member_client, impact):
    response = resolve(member_client, impact)
    assert response.status_code == 302
    html = member_client.get(impact.get_absolute_url()).content.decode()
    assert 'data-testid="hint-final-update"' in html and "Post the final customer update" in html
    assert FINAL_UPDATE_TEXT in html  # in the update form's textarea
    assert 'id="tab-update" class="tab-radio" checked' in html  # the update tab is the one open
    assert 'data-testid="skip-final-update"' in html and "Post final update" in html
    # It stays while the page is re-rendered (the poll, the live refresh) until posted or skipped.
    html = member_client.get(impact.get_absolute_url()).content.decode()
    assert 'data-testid="hint-final-update"' in html


def test_posting_the_final_update_records_it_and_the_prompt_goes(member_client, impact):
    resolve(member_client, impact)
    impact.refresh_from_db()
    response = member_client.post(
        reverse("incidents:update_post", args=[impact.pk]),
        {"text": FINAL_UPDATE_TEXT, "version": impact.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Post the final customer update" not in response.content.decode()  # the header came along
    update = TimelineEvent.objects.filter(incident=impact, kind=EventKind.UPDATE_POSTED).get()
    assert update.text == FINAL_UPDATE_TEXT and update.data["status"] == "resolved"
    html = member_client.get(impact.get_absolute_url()).content.decode()
    assert "hint-final-update" not in html and FINAL_UPDATE_TEXT not in html.split("update-text")[1]


def test_skip_ends_the_prompt_and_posts_nothing(member_client, impact):
    resolve(member_client, impact)
    response = member_client.post(reverse("incidents:final_update_skip", args=[impact.pk]))
    assert response.status_code == 302
    html = member_client.get(impact.get_absolute_url()).content.decode()
    assert "hint-final-update" not in html and 'data-testid="skip-final-update"' not in html
    assert not TimelineEvent.objects.filter(incident=impact, kind=EventKind.UPDATE_POSTED).exists()


def test_resolving_with_htmx_brings_the_prefilled_form_and_opens_its_tab(member_client, impact):
    response = resolve(member_client, impact, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert FINAL_UPDATE_TEXT in html and 'id="update-form"' in html
    assert 'id="tab-update" class="tab-radio" checked hx-swap-oob="true"' in html
    impact.refresh_from_db()
    # The re-rendered update form carries the version after the resolve: posting it is not refused as stale.
    form = html[html.index('id="update-form"') :]
    assert f'name="version" value="{impact.version}"' in form[: form.index("</form>")]


def test_no_prompt_without_customer_impact(member_client, incident):
    resolve(member_client, incident)
    html = member_client.get(incident.get_absolute_url()).content.decode()
    assert "hint-final-update" not in html and FINAL_UPDATE_TEXT not in html


def test_the_prompt_is_for_the_resolver_only(member_client, client, impact, team):
    resolve(member_client, impact)
    from tests.factories import MembershipFactory

    colleague = MembershipFactory(team=team, user=UserFactory(username="cleo")).user
    client.force_login(colleague)
    html = client.get(impact.get_absolute_url()).content.decode()
    assert "hint-final-update" not in html


def test_reopened_the_prompt_goes_and_the_update_form_is_plain(member_client, impact, member):
    resolve(member_client, impact)
    services.incident_transition(incident=impact, to="investigating", actor=member)
    html = member_client.get(impact.get_absolute_url()).content.decode()
    assert "hint-final-update" not in html and FINAL_UPDATE_TEXT not in html


def test_skip_of_an_incident_one_may_not_see_is_a_404(client, member, team):
    private = services.incident_declare(title="x", severity="major", actor=member, team=team, private=True)
    client.force_login(UserFactory(username="nosy"))
    assert client.post(reverse("incidents:final_update_skip", args=[private.pk])).status_code == 404
