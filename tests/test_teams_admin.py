"""The teams admin: teams with their members and services, written through ``teams.services``."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from teams.models import Membership, Service, Team
from tests.factories import MembershipFactory, ServiceFactory, UserFactory

TEAM_ADD = reverse("admin:teams_team_add")


def team_change(team) -> str:
    return reverse("admin:teams_team_change", args=[team.pk])


def make_staff(username: str, *codenames: str):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="teams", codename__in=codenames)
    )
    return user


ALL_TEAM_PERMS = [
    f"{action}_{model}"
    for action in ("add", "change", "delete", "view")
    for model in ("team", "membership", "service")
]


@pytest.fixture
def staff(db):
    return make_staff("sam", *ALL_TEAM_PERMS)


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def form_data(response, **overrides) -> dict:
    """What the browser would send back for the page in ``response``: main form and inline formsets."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:
                data[form.add_prefix(name)] = value
    data.update(overrides)
    return data


def empty_inlines(**overrides) -> dict:
    data = {}
    for prefix in ("memberships", "services"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    data.update(overrides)
    return data


def test_team_pages_render(admin_client, team, member):
    ServiceFactory(team=team, name="Checkout", slug="checkout")
    response = admin_client.get(reverse("admin:teams_team_changelist"))
    assert response.status_code == 200 and "Payments" in response.content.decode()
    response = admin_client.get(team_change(team))
    assert response.status_code == 200
    body = response.content.decode()
    assert "bob" in body and "Checkout" in body
    assert "slug" not in response.context["adminform"].form.fields
    for name in ("membership", "service"):
        assert admin_client.get(reverse(f"admin:teams_{name}_changelist")).status_code == 200
    assert admin_client.get(TEAM_ADD).status_code == 200


def test_add_team_with_members_and_services(admin_client, user):
    data = empty_inlines(
        name="Search",
        slug="search",
        description="",
        **{
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": user.pk,
            "memberships-0-role": "lead",
            "services-TOTAL_FORMS": "1",
            "services-0-name": "Search API",
            "services-0-slug": "search-api",
        },
    )
    response = admin_client.post(TEAM_ADD, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    team = Team.objects.get(slug="search")
    assert list(team.memberships.values_list("user__username", "role")) == [("alice", "lead")]
    assert list(team.services.values_list("slug", flat=True)) == ["search-api"]


def test_staff_creating_a_team_becomes_its_admin(client, staff):
    client.force_login(staff)
    response = client.post(TEAM_ADD, empty_inlines(name="Growth", slug="growth", description=""))
    assert response.status_code == 302
    team = Team.objects.get(slug="growth")
    assert Membership.objects.get(team=team, user=staff).role == Membership.Role.ADMIN


def test_change_members_through_the_inline(admin_client, team, member, user):
    response = admin_client.get(team_change(team))
    data = form_data(
        response,
        **{
            "memberships-0-role": "lead",
            "memberships-TOTAL_FORMS": "2",
            "memberships-1-user": user.pk,
            "memberships-1-role": "member",
            "memberships-1-team": team.pk,
        },
    )
    response = admin_client.post(team_change(team), data)
    assert response.status_code == 302
    assert dict(team.memberships.values_list("user__username", "role")) == {"bob": "lead", "alice": "member"}

    response = admin_client.get(team_change(team))
    rows = {
        f.instance.user.username: i
        for i, f in enumerate(response.context["inline_admin_formsets"][0].formset)
    }
    data = form_data(response, **{f"memberships-{rows['bob']}-DELETE": "on"})
    response = admin_client.post(team_change(team), data)
    assert response.status_code == 302
    assert list(team.memberships.values_list("user__username", flat=True)) == ["alice"]


def test_staff_who_does_not_lead_the_team_is_refused_on_the_form(client, staff, team, member):
    client.force_login(staff)
    response = client.get(team_change(team))
    response = client.post(team_change(team), form_data(response, name="Renamed"))
    assert response.status_code == 200
    assert ("error", "Only the team's leads and admins can change it.") in messages_of(response)
    assert (
        "Only the team's leads and admins can change it."
        in response.context["adminform"].form.non_field_errors()
    )
    team.refresh_from_db()
    assert team.name == "Payments"


def test_team_lead_on_staff_can_change_the_team(client, staff, team):
    MembershipFactory(team=team, user=staff, role=Membership.Role.LEAD)
    client.force_login(staff)
    response = client.get(team_change(team))
    response = client.post(team_change(team), form_data(response, name="Payments & Billing"))
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.name == "Payments & Billing"


def test_duplicate_service_is_a_form_error(admin_client, team):
    ServiceFactory(team=team, name="Checkout", slug="checkout")
    response = admin_client.post(
        reverse("admin:teams_service_add"), {"name": "checkout", "slug": "checkout-2", "team": team.pk}
    )
    assert response.status_code == 200
    assert Service.objects.filter(team=team).count() == 1


def test_service_admin_adds_through_the_service(admin_client, team):
    response = admin_client.post(
        reverse("admin:teams_service_add"), {"name": "Ledger", "slug": "ledger", "team": team.pk}
    )
    assert response.status_code == 302
    assert Service.objects.get(slug="ledger").team == team


def test_staff_outside_the_team_cannot_add_its_service(client, staff, team):
    client.force_login(staff)
    response = client.post(
        reverse("admin:teams_service_add"), {"name": "Ledger", "slug": "ledger", "team": team.pk}
    )
    assert response.status_code == 200
    assert ("error", "Only the team's leads and admins can add services.") in messages_of(response)
    assert not Service.objects.filter(slug="ledger").exists()


def test_membership_admin_add_and_delete(admin_client, team, user):
    response = admin_client.post(
        reverse("admin:teams_membership_add"), {"team": team.pk, "user": user.pk, "role": "member"}
    )
    assert response.status_code == 302
    membership = Membership.objects.get(team=team, user=user)
    response = admin_client.post(
        reverse("admin:teams_membership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_membership_delete_refused_for_staff_outside_the_team(client, staff, team, member):
    membership = Membership.objects.get(team=team, user=member)
    client.force_login(staff)
    changelist = reverse("admin:teams_membership_changelist")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [membership.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert ("error", "Only the team's leads and admins can change its members.") in messages_of(response)
    assert Membership.objects.filter(pk=membership.pk).exists()
    response = client.post(reverse("admin:teams_membership_delete", args=[membership.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_service_admin_edits_and_deletes_through_the_services(admin_client, team, member):
    from incidents import services as incident_services

    svc = ServiceFactory(team=team, name="Billing", slug="billing")
    url = reverse("admin:teams_service_change", args=[svc.pk])
    response = admin_client.post(url, {"name": "Billing API", "team": team.pk, "description": "Invoices"})
    assert response.status_code == 302
    svc.refresh_from_db()
    assert svc.name == "Billing API" and svc.description == "Invoices"

    incident_services.incident_declare(title="x", severity="major", actor=member, services=[svc])
    response = admin_client.post(
        reverse("admin:teams_service_delete", args=[svc.pk]), {"post": "yes"}, follow=True
    )
    assert Service.objects.filter(pk=svc.pk).exists()
    assert any("stays in the catalog" in str(m) for m in get_messages(response.wsgi_request))

    unused = ServiceFactory(team=team, name="Unused", slug="unused")
    admin_client.post(reverse("admin:teams_service_delete", args=[unused.pk]), {"post": "yes"})
    assert not Service.objects.filter(pk=unused.pk).exists()


def test_changing_a_membership_rows_user_hands_it_over(admin_client, team, member, user):
    response = admin_client.get(team_change(team))
    rows = {
        f.instance.user.username: i
        for i, f in enumerate(response.context["inline_admin_formsets"][0].formset)
    }
    data = form_data(response, **{f"memberships-{rows['bob']}-user": user.pk})
    response = admin_client.post(team_change(team), data)
    assert response.status_code == 302
    assert dict(team.memberships.values_list("user__username", "role")) == {"alice": "member"}
