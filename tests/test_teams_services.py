import pytest

from core.errors import Conflict, PermissionDenied, ValidationError
from teams import selectors, services
from teams.models import Membership, Team
from tests.factories import AdminFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_creates_team_and_becomes_its_admin():
    staff = UserFactory(username="sam", is_staff=True)
    team = services.team_create(name="Payments", actor=staff)
    assert team.slug == "payments"
    assert Membership.objects.get(team=team, user=staff).role == "admin"


def test_superuser_creates_team_without_joining_it():
    root = AdminFactory()
    team = services.team_create(name="Platform", slug="plat", actor=root)
    assert team.slug == "plat" and not team.memberships.exists()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": ""}, ValidationError),
        ({"name": "!!!"}, ValidationError),
        ({"name": "payments"}, Conflict),
        ({"name": "Other", "slug": "payments"}, Conflict),
        ({"name": "New"}, ValidationError),
        ({"name": "x" * 101}, ValidationError),
        ({"name": "Docs", "description": "d" * 20_001}, ValidationError),
        ({"name": "Docs", "description": "a\x00b"}, ValidationError),
    ],
)
def test_team_create_refuses(kwargs, error):
    root = AdminFactory()
    services.team_create(name="Payments", actor=root)
    with pytest.raises(error):
        services.team_create(actor=root, **kwargs)
    assert Team.objects.count() == 1


def test_plain_user_cannot_create_team(user):
    with pytest.raises(PermissionDenied):
        services.team_create(name="Shadow IT", actor=user)


@pytest.mark.parametrize(
    ("actor_role", "allowed"),
    [("admin", True), ("lead", True), ("member", False), (None, False), ("superuser", True)],
)
def test_membership_permission_table(team, actor_role, allowed):
    if actor_role == "superuser":
        actor = AdminFactory()
    else:
        actor = UserFactory(username="actor")
        if actor_role:
            MembershipFactory(team=team, user=actor, role=actor_role)
    newcomer = UserFactory(username="newcomer")
    if allowed:
        services.membership_set(team=team, user=newcomer, role="member", actor=actor)
        assert selectors.user_team_role(newcomer, team) == "member"
        services.membership_set(team=team, user=newcomer, role="lead", actor=actor)
        assert selectors.user_team_role(newcomer, team) == "lead"
        services.membership_remove(team=team, user=newcomer, actor=actor)
        assert selectors.user_team_role(newcomer, team) is None
    else:
        with pytest.raises(PermissionDenied):
            services.membership_set(team=team, user=newcomer, role="member", actor=actor)
        assert selectors.user_team_role(newcomer, team) is None


def test_membership_unknown_role(team):
    with pytest.raises(ValidationError) as info:
        services.membership_set(team=team, user=UserFactory(), role="owner", actor=AdminFactory())
    assert info.value.field == "role"


def test_service_create(team):
    root = AdminFactory()
    svc = services.service_create(team=team, name="Checkout API", actor=root)
    assert svc.slug == "checkout-api" and svc.team == team
    with pytest.raises(Conflict):
        services.service_create(team=team, name="checkout api", actor=root)


def test_user_get_by_username_or_email():
    u = UserFactory(username="Alice", email="alice@corp.example")
    assert selectors.user_get(username="alice") == u
    assert selectors.user_get(username="ALICE@corp.example") == u
    assert selectors.user_get(username="") is None
    UserFactory(username="gone", is_active=False)
    assert selectors.user_get(username="gone") is None


def test_service_update_and_delete(team):
    from incidents import services as incident_services

    root = AdminFactory()
    lead = MembershipFactory(team=team, user=UserFactory(username="tl"), role="lead").user
    outsider = UserFactory(username="outsider")
    svc = services.service_create(team=team, name="Billing", actor=root)
    services.service_update(service=svc, name="Billing API", description="Invoices", actor=lead)
    svc.refresh_from_db()
    assert (svc.name, svc.description) == ("Billing API", "Invoices")
    with pytest.raises(PermissionDenied):
        services.service_update(service=svc, name="Mine", actor=outsider)
    with pytest.raises(ValidationError):
        services.service_update(service=svc, name=" ", actor=lead)
    incident_services.incident_declare(title="x", severity="major", actor=lead, services=[svc])
    with pytest.raises(Conflict):
        services.service_delete(service=svc, actor=lead)
    other = services.service_create(team=team, name="Unused", actor=root)
    services.service_delete(service=other, actor=lead)
    assert not team.services.filter(slug="unused").exists()


def test_moving_a_service_needs_both_teams(team):
    lead = MembershipFactory(team=team, user=UserFactory(username="tl2"), role="lead").user
    other = services.team_create(name="Platform", actor=AdminFactory())
    svc = services.service_create(team=team, name="Queue", actor=lead)
    with pytest.raises(PermissionDenied):
        services.service_update(service=svc, team=other, actor=lead)
    svc.refresh_from_db()
    assert svc.team == team
    MembershipFactory(team=other, user=lead, role="admin")
    services.service_update(service=svc, team=other, actor=lead)
    svc.refresh_from_db()
    assert svc.team == other


def test_assignable_users_are_the_active_ones_with_the_team_first(django_assert_num_queries):
    team = TeamFactory(name="Payments", slug="payments")
    ann = UserFactory(username="ann", first_name="Ann")
    zed = UserFactory(username="zed", first_name="Zed")
    bea = UserFactory(username="bea", first_name="Bea")
    UserFactory(username="gone", first_name="Aaron", is_active=False)
    MembershipFactory(team=team, user=zed)
    MembershipFactory(team=team, user=UserFactory(username="left", first_name="Al", is_active=False))
    assert list(selectors.assignable_user_list()) == [ann, bea, zed]
    with django_assert_num_queries(2):
        groups = selectors.assignable_user_groups(team=team)
    assert groups == {"team": [zed], "others": [ann, bea]}
    assert selectors.assignable_user_groups(team=None) == {"team": [], "others": [ann, bea, zed]}
    assert selectors.user_get(username="ZED") == zed and selectors.user_get(username="gone") is None
