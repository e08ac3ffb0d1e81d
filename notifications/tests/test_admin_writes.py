"""The admin writes destinations, routing rules and attention windows through the services, so it refuses what
the services refuse (unknown event kinds, a window that ends before it starts) and asks the same permission."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from core.errors import PermissionDenied, ValidationError
from notifications import services
from notifications.models import AttentionWindow, Destination, RoutingRule
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="notifications", codename__in=codenames)
    )
    return UserFactory._meta.model.objects.get(pk=user.pk)  # a fresh instance: no cached permissions


@pytest.fixture
def rule_admin(client):
    user = staff_with("add_routingrule", "change_routingrule", "view_routingrule", "view_destination")
    client.force_login(user)
    return client


def rule_form(**fields):
    return {"name": "Pages", "enabled": "on", "order": "100", "event_kinds": '["declared"]', **fields}


@pytest.mark.parametrize(
    ("kinds", "created"),
    [
        ('["declared"]', True),
        ('["wing.pinged"]', True),  # a kind registered as routable by an app (the test wing)
        ('["note_added"]', False),  # registered, but not routable
        ('["no_such_kind"]', False),
        ('"declared"', False),  # not a list
    ],
)
def test_admin_rule_event_kinds_are_checked_by_the_service(rule_admin, kinds, created):
    destination = Destination.objects.create(
        name="Ops", channel="webhook", webhook_url="https://example.test/h"
    )
    answer = rule_admin.post(
        reverse("admin:notifications_routingrule_add"),
        rule_form(event_kinds=kinds, destinations=[destination.pk]),
    )
    assert RoutingRule.objects.filter(name="Pages").exists() is created
    if not created:
        assert answer.status_code == 200
        errors = answer.context["adminform"].form.errors
        assert "event_kinds" in errors


def test_admin_rule_change_sets_destinations_through_the_service(rule_admin):
    destination = Destination.objects.create(
        name="Ops", channel="webhook", webhook_url="https://example.test/h"
    )
    rule = RoutingRule.objects.create(name="Pages", event_kinds=["declared"])
    answer = rule_admin.post(
        reverse("admin:notifications_routingrule_change", args=[rule.pk]),
        rule_form(destinations=[destination.pk]),
    )
    assert answer.status_code == 302
    assert list(rule.destinations.all()) == [destination]


def test_admin_attention_window_that_ends_before_it_starts_is_refused(client):
    user = staff_with("add_attentionwindow", "view_attentionwindow")
    client.force_login(user)
    now = timezone.now().replace(microsecond=0)
    data = {
        "note": "Launch",
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": now.strftime("%H:%M:%S"),
        "ends_at_0": (now - timedelta(hours=1)).strftime("%Y-%m-%d"),
        "ends_at_1": (now - timedelta(hours=1)).strftime("%H:%M:%S"),
    }
    answer = client.post(reverse("admin:notifications_attentionwindow_add"), data)
    assert answer.status_code == 200
    assert not AttentionWindow.objects.exists()
    data["ends_at_0"] = (now + timedelta(hours=2)).strftime("%Y-%m-%d")
    data["ends_at_1"] = (now + timedelta(hours=2)).strftime("%H:%M:%S")
    assert client.post(reverse("admin:notifications_attentionwindow_add"), data).status_code == 302
    assert AttentionWindow.objects.get().created_by == user


@pytest.mark.parametrize(
    ("call", "perm"),
    [
        (
            lambda actor: services.routing_rule_save(rule=RoutingRule(name="r"), actor=actor),
            "add_routingrule",
        ),
        (
            lambda actor: services.destination_save(
                destination=Destination(name="d", channel="webhook", webhook_url="https://example.test/"),
                actor=actor,
            ),
            "add_destination",
        ),
        (
            lambda actor: services.attention_window_save(
                window=AttentionWindow(
                    note="n", starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1)
                ),
                actor=actor,
            ),
            "add_attentionwindow",
        ),
    ],
)
def test_each_configuration_write_needs_its_model_permission(call, perm):
    with pytest.raises(PermissionDenied):
        call(staff_with())
    assert call(staff_with(perm)).pk is not None


def test_deleting_through_the_service_needs_the_delete_permission():
    rule = RoutingRule.objects.create(name="r")
    with pytest.raises(PermissionDenied):
        services.routing_rule_delete(rule=rule, actor=staff_with("change_routingrule"))
    services.routing_rule_delete(rule=rule, actor=staff_with("delete_routingrule"))
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()


def test_a_destination_of_an_unregistered_transport_is_refused():
    with pytest.raises(ValidationError):
        services.destination_save(
            destination=Destination(name="x", channel="pigeon"), actor=staff_with("add_destination")
        )
