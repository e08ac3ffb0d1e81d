# ruff: noqa: F811 (fixtures imported from web_helpers are redefined as test arguments)
"""The notifications admin: destinations checked before saving, the outbox read-only with Resend, private
incidents' messages hidden from those who may not see them, hand-made input refused without a 500."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import AttentionWindow, Contact, Destination, Message, RoutingRule
from notifications.tests.web_helpers import make_message, private_incident, root  # noqa: F401 (fixtures)
from teams.models import Membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

MESSAGES = reverse("admin:notifications_message_changelist")
DESTINATIONS = reverse("admin:notifications_destination_changelist")
NOTIFY_PERMS = ("view_message", "change_message", "view_destination")


def make_staff(username: str):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="notifications", codename__in=NOTIFY_PERMS)
    )
    return user


def toasts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def resend(client, *messages):
    return client.post(
        MESSAGES, {"action": "resend", ACTION_CHECKBOX_NAME: [m.pk for m in messages]}, follow=True
    )


# --- Messages ------------------------------------------------------------------------------------------------


def test_message_changelist_lists_links_and_filters(client, root, incident):
    dead = make_message(incident, status=Message.Status.DEAD)
    client.force_login(root)
    response = client.get(MESSAGES)
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("notifications:health") in html
    assert reverse("notifications:incident_messages", args=[incident.pk]) in html
    assert "channel_not_found" in html
    assert client.get(MESSAGES + "?status__exact=sent").context["cl"].result_count == 0
    assert client.get(MESSAGES + "?status__exact=dead").context["cl"].result_count == 1
    assert client.get(MESSAGES + "?q=%23incidents").context["cl"].result_count == 1
    assert client.get(MESSAGES + f"?q={dead.dedupe_key}").context["cl"].result_count == 1
    assert client.get(MESSAGES + f"?q=INC-{incident.pk}").context["cl"].result_count == 1


def test_resend_action_resends_dead_and_refuses_sent(client, root, incident):
    dead = make_message(incident, status=Message.Status.DEAD)
    failed = make_message(incident, status=Message.Status.FAILED)
    sent = make_message(incident, status=Message.Status.SENT)
    client.force_login(root)
    response = resend(client, dead, failed, sent)
    assert response.status_code == 200
    texts = toasts(response)
    assert "Queued 2 message(s) for delivery again." in texts
    assert any("Did not resend 1 message(s): only dead or failed messages" in t for t in texts)
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {dead.pk: "pending", failed.pk: "pending", sent.pk: "sent"}


def test_resend_action_needs_the_right_to_act_on_the_incident(client, incident):
    staff = make_staff("sam")  # may see the public incident, is not in its team
    message = make_message(incident, status=Message.Status.DEAD)
    client.force_login(staff)
    texts = toasts(resend(client, message))
    assert any(f"only those who can act on INC-{incident.pk}" in t for t in texts)
    message.refresh_from_db()
    assert message.status == Message.Status.DEAD
    MembershipFactory(team=incident.team, user=staff, role=Membership.Role.MEMBER)
    resend(client, message)
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING


def test_private_incident_messages_are_hidden_from_staff_who_cannot_see_it(
    client, private_incident, incident
):
    hidden = make_message(private_incident, status=Message.Status.DEAD, target="#sec")
    shown = make_message(incident, status=Message.Status.DEAD)
    client.force_login(make_staff("sam"))
    response = client.get(MESSAGES)
    assert [m.pk for m in response.context["cl"].result_list] == [shown.pk]
    assert "#sec" not in response.content.decode()
    change = reverse("admin:notifications_message_change", args=[hidden.pk])
    assert client.get(change).status_code == 404
    assert client.get(reverse("admin:notifications_message_history", args=[hidden.pk])).status_code == 404
    # Resend of a hidden message by a hand-made POST: not in the queryset, so nothing happens.
    resend(client, hidden)
    hidden.refresh_from_db()
    assert hidden.status == Message.Status.DEAD


def test_message_is_read_only_and_cannot_be_added_or_deleted(client, root, incident):
    message = make_message(incident, status=Message.Status.DEAD)
    client.force_login(root)
    change = reverse("admin:notifications_message_change", args=[message.pk])
    response = client.get(change)
    assert response.status_code == 200
    assert 'name="status"' not in response.content.decode()
    client.post(change, {"status": "sent", "target": "#evil"})
    message.refresh_from_db()
    assert (message.status, message.target) == ("dead", "#incidents")
    assert client.get(reverse("admin:notifications_message_add")).status_code == 403
    assert client.get(reverse("admin:notifications_message_delete", args=[message.pk])).status_code == 403


@pytest.mark.parametrize("ids", [["abc"], ["99999999999999999999999"], ["1.5"], ["-99999999999999999999"]])
def test_hand_made_action_ids_are_refused_without_a_500(client, root, ids):
    client.force_login(root)
    response = client.post(MESSAGES, {"action": "resend", ACTION_CHECKBOX_NAME: ids}, follow=True)
    assert response.status_code == 200
    assert "The selected rows are not valid ids." in toasts(response)


@pytest.mark.parametrize("object_id", ["abc", "99999999999999999999999", "0"])
def test_hostile_change_urls_are_404(client, root, object_id):
    client.force_login(root)
    url = reverse("admin:notifications_message_change", args=[object_id])
    assert client.get(url).status_code == 404


def test_message_changelist_runs_a_constant_number_of_queries(client, root, incident):
    destination = Destination.objects.first()
    client.force_login(root)

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(MESSAGES)
        assert response.status_code == 200
        return len(ctx), response.context["cl"].result_count

    for _ in range(3):
        make_message(incident, destination=destination)
    few, shown = count()
    assert shown == 3
    for n in range(27):
        make_message(incident, destination=destination, status=list(Message.Status.values)[n % 5])
    many, shown = count()
    assert shown == 30
    assert many == few


# --- Destinations, rules, windows, contacts ---------------------------------------------------------------


def test_destination_form_checks_the_destination(client, root):
    client.force_login(root)
    add = reverse("admin:notifications_destination_add")
    response = client.post(add, {"name": "Bad", "channel": "slack", "slack_channel": "Not A Channel"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "slack_channel" in errors
    assert not Destination.objects.filter(name="Bad").exists()
    response = client.post(add, {"name": "Ops list", "channel": "email", "email_addresses": "ops@, x"})
    assert "email_addresses" in response.context["adminform"].form.errors
    response = client.post(add, {"name": "Good", "channel": "slack", "slack_channel": "#ops", "active": "on"})
    assert response.status_code == 302
    assert Destination.objects.get(name="Good").slack_channel == "#ops"


def test_destination_list_shows_target_and_last_error(client, root):
    destination = Destination.objects.filter(channel="slack").first()
    Destination.objects.filter(pk=destination.pk).update(
        last_error="Slack said invalid_auth", last_error_at=timezone.now()
    )
    client.force_login(root)
    html = client.get(DESTINATIONS).content.decode()
    assert "Slack said invalid_auth" in html
    assert destination.slack_channel in html
    assert reverse("notifications:health") in html
    response = client.post(
        DESTINATIONS, {"action": "clear_last_error", ACTION_CHECKBOX_NAME: [destination.pk]}, follow=True
    )
    assert response.status_code == 200
    destination.refresh_from_db()
    assert destination.last_error == ""


def test_routing_rule_list_summarises_conditions(client, root):
    rule = RoutingRule.objects.create(name="Payments critical", customer_impact_only=True)
    rule.destinations.add(Destination.objects.first())
    client.force_login(root)
    html = client.get(reverse("admin:notifications_routingrule_changelist")).content.decode()
    assert "Payments critical" in html
    assert "customer impact" in html
    assert client.get(reverse("admin:notifications_routingrule_change", args=[rule.pk])).status_code == 200


def test_attention_window_list_shows_active_now_and_records_its_author(client, root):
    now = timezone.now()
    AttentionWindow.objects.create(
        note="Launch", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )
    AttentionWindow.objects.create(
        note="Old", starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)
    )
    client.force_login(root)
    url = reverse("admin:notifications_attentionwindow_changelist")
    response = client.get(url + "?when=active")
    assert [w.note for w in response.context["cl"].result_list] == ["Launch"]
    add = reverse("admin:notifications_attentionwindow_add")
    start = now + timedelta(days=1)
    bad = client.post(
        add,
        {
            "note": "Backwards",
            "starts_at_0": start.strftime("%Y-%m-%d"),
            "starts_at_1": "10:00:00",
            "ends_at_0": start.strftime("%Y-%m-%d"),
            "ends_at_1": "09:00:00",
        },
    )
    assert bad.status_code == 200
    assert "ends_at" in bad.context["adminform"].form.errors
    good = client.post(
        add,
        {
            "note": "Funding news",
            "starts_at_0": start.strftime("%Y-%m-%d"),
            "starts_at_1": "09:00:00",
            "ends_at_0": start.strftime("%Y-%m-%d"),
            "ends_at_1": "18:00:00",
        },
    )
    assert good.status_code == 302
    assert AttentionWindow.objects.get(note="Funding news").created_by == root


def test_contact_admin_lists_contacts(client, root, member):
    Contact.objects.create(user=member, slack_user_id="U0123ABCD")
    client.force_login(root)
    html = client.get(reverse("admin:notifications_contact_changelist")).content.decode()
    assert "U0123ABCD" in html


def test_send_test_message_reaches_slack_or_shows_why_not(
    client, root, slack_peer, settings, django_capture_on_commit_callbacks
):
    destination = Destination.objects.get(name="#incidents")
    client.force_login(root)
    action = {"action": "send_test", ACTION_CHECKBOX_NAME: [destination.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DESTINATIONS, action, follow=True)
    assert any("Queued 1 test message(s) to #incidents" in t for t in toasts(response))
    [posted] = slack_peer.delivered("chat.postMessage")
    assert posted["channel"] == destination.slack_channel
    assert "Test message from Muster, sent by root" in posted["text"]
    test_message = Message.objects.get(destination=destination)
    assert (test_message.status, test_message.incident_id) == ("sent", None)

    settings.SLACK_BOT_TOKEN = "xoxb-revoked"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(DESTINATIONS, action, follow=True)
    dead = Message.objects.filter(destination=destination, status=Message.Status.DEAD).get()
    assert "invalid_auth" in dead.last_error
    destination.refresh_from_db()
    assert "invalid_auth" in destination.last_error
    assert "invalid_auth" in client.get(DESTINATIONS).content.decode()


def test_send_test_skips_inactive_destinations(client, root):
    destination = Destination.objects.create(name="Off", channel="slack", slack_channel="#off", active=False)
    client.force_login(root)
    response = client.post(
        DESTINATIONS, {"action": "send_test", ACTION_CHECKBOX_NAME: [destination.pk]}, follow=True
    )
    assert any("Skipped 1 inactive destination(s)" in t for t in toasts(response))
    assert not Message.objects.filter(destination=destination).exists()


@pytest.mark.django_db
def test_slack_channels_and_reminders_are_listed_read_only_and_hide_private_incidents(
    admin_client, client, user
):
    from incidents import services as incident_services
    from notifications.models import IncidentSlackChannel, Reminder
    from tests.factories import UserFactory

    public = incident_services.incident_declare(title="Public thing", severity="major", actor=user)
    secret = incident_services.incident_declare(
        title="Secret thing", severity="major", actor=user, private=True
    )
    for incident in (public, secret):
        IncidentSlackChannel.objects.create(incident=incident, name=f"inc-{incident.pk}-x", channel_id="C1")
        Reminder.objects.create(incident=incident, kind="no-lead", key=f"no-lead:{incident.pk}")
    for url in ("/admin/notifications/incidentslackchannel/", "/admin/notifications/reminder/"):
        body = admin_client.get(url).content.decode()
        assert f"INC-{public.pk}" in body and f"INC-{secret.pk}" in body
    staff = UserFactory(username="support", is_staff=True, is_superuser=True)
    staff.is_superuser = False
    staff.save()
    from django.contrib.auth.models import Permission

    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_incidentslackchannel", "view_reminder"])
    )
    client.force_login(staff)
    for url in ("/admin/notifications/incidentslackchannel/", "/admin/notifications/reminder/"):
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert f"INC-{public.pk}" in body and f"INC-{secret.pk}<" not in body
    assert admin_client.get("/admin/notifications/reminder/add/").status_code == 403
