"""The incident Slack channel, end to end in-process against the local Slack peer (tests/peers.py)."""

from datetime import timedelta

import pytest
from celery import current_app as celery_app  # the project's app (config), without importing the top
from django.db import connection, transaction
from django.utils import timezone

from incidents import services
from incidents.models import ConsumerRun, Incident
from notifications.incident_channel import CONSUMER, channel_name, name_with_suffix
from notifications.models import Contact, IncidentSlackChannel, Message, RoutingRule
from notifications.services import Draft, message_resend, messages_deliver, messages_enqueue
from tests.factories import UserFactory
from tests.peers import Fault, wait_for
from tests.workers import RedisServer, Worker, needs_worker_stack, publishing_to, terminate_other_sessions

CHANNEL_KINDS = (
    "channel.create",
    "channel.invite",
    "summary.post",
    "summary.update",
    "channel.archive",
    "channel.post",
)


@pytest.fixture
def slack(settings, slack_peer):
    """The Slack peer with incident channels switched on and alice and bob known by email."""
    settings.SLACK_INCIDENT_CHANNELS = True
    slack_peer.users_by_email.update({"alice@example.com": "UALICE", "bob@example.com": "UBOB"})
    return slack_peer


def channel_messages(incident, kind=None):
    qs = Message.objects.filter(incident=incident, kind__in=CHANNEL_KINDS).order_by("pk")
    return qs.filter(kind=kind) if kind else qs


def retry(messages):
    """Make failed messages due now and deliver them, as the sweeper would."""
    ids = [m.pk for m in messages]
    Message.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    return messages_deliver(message_ids=ids)


def declare(capture, **kwargs):
    with capture(execute=True):
        return services.incident_declare(severity="critical", **kwargs)


# --- Names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pk", "title", "expected"),
    [
        (123, "Checkout errors!", "inc-123-checkout-errors"),
        (7, "  API 5xx on /v1/pay (EU) ", "inc-7-api-5xx-on-v1pay-eu"),
        (8, "Zahlungsausfall über Nacht", "inc-8-zahlungsausfall-uber-nacht"),
        (9, "支払い", "inc-9"),
        (10, "--- ___ ---", "inc-10"),
        (11, "a" * 200, "inc-11-" + "a" * 73),
        (12, "word " * 40, ("inc-12-" + "word-" * 15)[:80].rstrip("-")),
    ],
)
def test_channel_name_is_a_valid_slack_name(pk, title, expected):
    name = channel_name(Incident(pk=pk, title=title))
    assert name == expected
    assert len(name) <= 80
    assert all(c.islower() or c.isdigit() or c in "-_" for c in name)


def test_name_suffix_stays_within_slacks_limit():
    assert name_with_suffix("inc-1-db", 1) == "inc-1-db"
    assert name_with_suffix("inc-1-db", 2) == "inc-1-db-2"
    long = "inc-11-" + "a" * 73
    assert name_with_suffix(long, 12) == long[:77] + "-12"
    assert len(name_with_suffix(long, 12)) == 80


# --- Declare ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_declare_creates_the_channel_invites_declarer_and_lead_and_posts_the_summary(
    user, member, slack, django_capture_on_commit_callbacks
):
    incident = declare(
        django_capture_on_commit_callbacks,
        title="Checkout errors",
        actor=user,
        lead=member,
        customer_impact=True,
    )
    row = IncidentSlackChannel.objects.get(incident=incident)
    expected_name = f"inc-{incident.pk}-checkout-errors"
    assert [p["name"] for p in slack.delivered("conversations.create")] == [expected_name]
    assert row.name == expected_name
    assert row.channel_id == slack.channels[expected_name]["id"]
    assert slack.delivered("conversations.create")[0]["is_private"] == "0"  # slack_sdk sends booleans as 0/1
    invited = {(p["channel"], p["users"]) for p in slack.delivered("conversations.invite")}
    assert invited == {(row.channel_id, "UALICE"), (row.channel_id, "UBOB")}
    posts = [p for p in slack.delivered("chat.postMessage") if p["channel"] == row.channel_id]
    assert len(posts) == 1
    summary = posts[0]["text"]
    assert f"INC-{incident.pk}: Checkout errors" in summary
    assert "*Severity:* Critical" in summary
    assert "*Status:* Triage" in summary
    assert "*Lead:* " + (member.get_full_name() or member.username) in summary
    assert "*Customer impact:* :warning: Yes" in summary
    assert "UTC_" in summary
    assert row.summary_ts.startswith("1700000000.")
    assert {m.status for m in channel_messages(incident)} == {Message.Status.SENT}
    assert channel_messages(incident, "summary.post").get().external_id == row.summary_ts


@pytest.mark.django_db
def test_user_text_in_the_summary_cannot_mention_or_forge_links(
    user, slack, django_capture_on_commit_callbacks
):
    incident = declare(
        django_capture_on_commit_callbacks, title="<!channel> <http://evil|login> & co", actor=user
    )
    row = IncidentSlackChannel.objects.get(incident=incident)
    text = next(p["text"] for p in slack.delivered("chat.postMessage") if p["channel"] == row.channel_id)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &lt;http://evil|login&gt; &amp; co" in text
    assert row.name == f"inc-{incident.pk}-channel-httpevillogin-co"


@pytest.mark.django_db
def test_invite_uses_the_stored_slack_member_id(user, slack, django_capture_on_commit_callbacks):
    Contact.objects.create(user=user, slack_user_id="U0STORED")
    declare(django_capture_on_commit_callbacks, title="Search slow", actor=user)
    assert [p["users"] for p in slack.delivered("conversations.invite")] == ["U0STORED"]
    assert slack.received("users.lookupByEmail") == []


@pytest.mark.django_db
def test_private_incident_gets_a_private_channel(user, slack, django_capture_on_commit_callbacks):
    incident = declare(django_capture_on_commit_callbacks, title="Leaked key", actor=user, private=True)
    (created,) = slack.delivered("conversations.create")
    assert created["is_private"] == "1"
    row = IncidentSlackChannel.objects.get(incident=incident)
    assert row.is_private is True
    assert slack.channels[row.name]["is_private"] is True
    assert {m.status for m in channel_messages(incident)} == {Message.Status.SENT}


@pytest.mark.django_db
@pytest.mark.parametrize("switch", ["channels_off", "slack_off"])
def test_no_channel_messages_when_switched_off(
    switch, settings, user, member, slack, django_capture_on_commit_callbacks
):
    if switch == "channels_off":
        settings.SLACK_INCIDENT_CHANNELS = False
    else:
        settings.SLACK_BOT_TOKEN = ""
    incident = declare(django_capture_on_commit_callbacks, title="Search slow", actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_assign_role(incident=incident, role="lead", user=member, actor=user)
        services.incident_post_update(incident=incident, text="Rolling back", actor=user)
    assert not channel_messages(incident).exists()
    assert not IncidentSlackChannel.objects.filter(incident=incident).exists()
    assert slack.received("conversations.create") == []
    assert incident.events.filter(consumer_runs__consumer=CONSUMER).count() == 3  # it ran, and did nothing


@pytest.mark.django_db
def test_events_handled_before_the_declaration_open_the_channel_and_nothing_is_lost(
    user, member, slack, settings
):
    """A lost broker message can make the declaration's run come after later events' runs (the sweeper brings
    it): the first run to come opens the channel, the update still reaches it, and nothing is written twice."""
    from notifications.incident_channel import on_event

    settings.SLACK_INCIDENT_CHANNELS = False  # the in-process runs at commit do nothing
    incident = services.incident_declare(title="Checkout errors", severity="major", actor=user, lead=member)
    services.incident_post_update(incident=incident, text="Rolling back v42", actor=user)
    settings.SLACK_INCIDENT_CHANNELS = True
    update = incident.events.get(kind="update_posted")
    declared = incident.events.get(kind="declared")
    with transaction.atomic():
        on_event(update)
    kinds = sorted(channel_messages(incident).values_list("kind", flat=True))
    assert kinds == [
        "channel.create",
        "channel.invite",
        "channel.invite",
        "channel.post",
        "summary.post",
    ]
    with transaction.atomic():
        on_event(declared)
        on_event(update)
    assert channel_messages(incident).count() == len(kinds)
    assert IncidentSlackChannel.objects.filter(incident=incident).count() == 1


@pytest.mark.django_db
def test_a_late_event_of_a_closed_incident_opens_no_channel(user, slack, settings):
    from notifications.incident_channel import on_event

    settings.SLACK_INCIDENT_CHANNELS = False
    incident = services.incident_declare(title="Checkout errors", severity="major", actor=user)
    services.incident_transition(incident=incident, to="declined", actor=user)
    settings.SLACK_INCIDENT_CHANNELS = True
    with transaction.atomic():
        on_event(incident.events.get(kind="status_changed"))
    assert not channel_messages(incident).exists()
    assert not IncidentSlackChannel.objects.filter(incident=incident).exists()


# --- Failures ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_failing_with_500_is_retried_and_never_blocks_the_declare(
    user, slack, django_capture_on_commit_callbacks
):
    slack.fail_next("conversations.create", Fault(status=500))
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    assert Incident.objects.filter(pk=incident.pk).exists()  # the declare committed
    create = channel_messages(incident, "channel.create").get()
    assert create.status == Message.Status.FAILED
    assert "500" in create.last_error
    waiting = channel_messages(incident).exclude(pk=create.pk)
    assert {m.kind for m in waiting} == {"channel.invite", "summary.post"}
    assert {m.status for m in waiting} == {Message.Status.FAILED}  # waiting for the channel, not lost
    assert all("not created yet" in m.last_error for m in waiting)
    assert slack.delivered("conversations.invite") == [] and slack.delivered("chat.postMessage") == [
        p for p in slack.delivered("chat.postMessage") if p["channel"].startswith("#")
    ]

    outcome = retry(channel_messages(incident))
    assert outcome == {Message.Status.SENT: 3}
    row = IncidentSlackChannel.objects.get(incident=incident)
    assert row.channel_id and row.summary_ts
    assert len(slack.received("conversations.create")) == 2
    assert [p["channel"] for p in slack.delivered("conversations.invite")] == [row.channel_id]


@pytest.mark.django_db
def test_operations_backing_off_for_the_channel_go_as_soon_as_it_exists(
    user, slack, django_capture_on_commit_callbacks
):
    """Waiting is not failing: once the channel exists, the invite and summary waiting for it are due at once,
    not after their backoff (which doubles with each wait and could reach minutes)."""
    slack.fail_next("conversations.create", Fault(status=500))
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    waiting = list(channel_messages(incident).exclude(kind="channel.create"))
    Message.objects.filter(pk__in=[m.pk for m in waiting]).update(
        attempts=4, next_attempt_at=timezone.now() + timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert retry(channel_messages(incident, "channel.create")) == {Message.Status.SENT: 1}
    rows = list(channel_messages(incident).exclude(kind="channel.create"))
    assert {(m.status, m.attempts) for m in rows} == {(Message.Status.SENT, 1)}
    assert len(slack.delivered("conversations.invite")) == 1


@pytest.mark.django_db
def test_a_taken_name_gets_a_suffix(user, slack, django_capture_on_commit_callbacks):
    slack.fail_next("conversations.create", Fault(error="name_taken"), Fault(error="name_taken"))
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    base = f"inc-{incident.pk}-checkout-errors"
    row = IncidentSlackChannel.objects.get(incident=incident)
    assert row.name == base + "-3"
    assert [r.params["name"] for r in slack.received("conversations.create")] == [
        base,
        base + "-2",
        base + "-3",
    ]
    assert row.channel_id == slack.channels[base + "-3"]["id"]
    assert channel_messages(incident, "summary.post").get().status == Message.Status.SENT


@pytest.mark.django_db
def test_a_name_taken_by_an_existing_channel_gets_the_next_free_suffix(
    user, slack, django_capture_on_commit_callbacks
):
    first = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    taken = IncidentSlackChannel.objects.get(incident=first).name
    # The same incident's channel created again (a database restored from a backup): the name exists in Slack.
    IncidentSlackChannel.objects.filter(incident=first).delete()
    row = IncidentSlackChannel.objects.create(incident=first, name=taken)
    draft = Draft(
        channel="slack", kind="channel.create", target=f"#{taken}", dedupe_key="again", incident_id=first.pk
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        messages_enqueue([draft])
    row.refresh_from_db()
    assert row.name == f"{taken}-2"
    assert row.channel_id == slack.channels[f"{taken}-2"]["id"] != slack.channels[taken]["id"]
    assert Message.objects.get(dedupe_key="again").external_id == row.channel_id


@pytest.mark.django_db
def test_create_refused_for_good_lets_the_waiting_operations_fail_too(
    user, slack, django_capture_on_commit_callbacks
):
    slack.fail_next("conversations.create", Fault(error="restricted_action"))
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    create = channel_messages(incident, "channel.create").get()
    assert create.status == Message.Status.DEAD
    assert "restricted_action" in create.last_error
    retry(channel_messages(incident).exclude(pk=create.pk))
    others = channel_messages(incident).exclude(pk=create.pk)
    assert {m.status for m in others} == {Message.Status.DEAD}
    assert all("could not be created" in m.last_error for m in others)

    # An admin resends the channel creation once Slack allows it: the rest follows.
    with django_capture_on_commit_callbacks(execute=True):
        message_resend(message=create)
    assert {m.status for m in channel_messages(incident)} == {Message.Status.SENT}


# --- The live summary ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_changes_edit_the_summary_in_place(user, member, slack, django_capture_on_commit_callbacks):
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    row = IncidentSlackChannel.objects.get(incident=incident)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="investigating", actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_change_severity(incident=incident, severity="major", actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_assign_role(incident=incident, role="lead", user=member, actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_update(incident=incident, actor=user, title="Checkout errors in EU")

    updates = slack.delivered("chat.update")
    assert len(updates) == 4
    assert {(u["channel"], u["ts"]) for u in updates} == {(row.channel_id, row.summary_ts)}
    final = updates[-1]["text"]
    assert "Checkout errors in EU" in final
    assert "*Status:* Investigating" in final
    assert "*Severity:* Major" in final
    assert "*Lead:* " + (member.get_full_name() or member.username) in final
    # Still one summary in the channel, and the new lead was invited.
    assert len([p for p in slack.delivered("chat.postMessage") if p["channel"] == row.channel_id]) == 1
    assert "UBOB" in [p["users"] for p in slack.delivered("conversations.invite")]
    assert channel_messages(incident, "summary.update").count() == 4


@pytest.mark.django_db
def test_an_edit_delivered_late_still_shows_the_current_state(
    user, slack, django_capture_on_commit_callbacks
):
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    slack.fail_next("chat.update", Fault(status=500))
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="investigating", actor=user)
    first = channel_messages(incident, "summary.update").get()
    assert first.status == Message.Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="monitoring", actor=user)
    assert "*Status:* Monitoring" in slack.delivered("chat.update")[-1]["text"]

    retry([first])  # the older edit arrives last
    first.refresh_from_db()
    assert first.status == Message.Status.SENT
    last = slack.delivered("chat.update")[-1]["text"]
    assert "*Status:* Monitoring" in last
    assert "Investigating" not in last


@pytest.mark.django_db
def test_an_edit_before_the_summary_exists_waits_for_it(user, slack, django_capture_on_commit_callbacks):
    slack.fail_next("chat.postMessage", Fault(status=429, retry_after=1))
    # Routing posts to #incidents first: let that one fail and the summary too.
    slack.fail_next("chat.postMessage", Fault(status=500), Fault(status=500))
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    assert channel_messages(incident, "summary.post").get().status == Message.Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="investigating", actor=user)
    update = channel_messages(incident, "summary.update").get()
    assert update.status == Message.Status.FAILED
    assert "not posted yet" in update.last_error
    assert slack.delivered("chat.update") == []

    retry(channel_messages(incident).filter(kind__in=["summary.post", "summary.update"]))
    row = IncidentSlackChannel.objects.get(incident=incident)
    summaries = [p for p in slack.delivered("chat.postMessage") if p["channel"] == row.channel_id]
    assert len(summaries) == 1
    assert "*Status:* Investigating" in summaries[0]["text"]
    assert [u["ts"] for u in slack.delivered("chat.update")] == [row.summary_ts]


@pytest.mark.django_db
def test_a_summary_deleted_in_slack_is_posted_again(user, slack, django_capture_on_commit_callbacks):
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    old_ts = IncidentSlackChannel.objects.get(incident=incident).summary_ts
    slack.fail_next("chat.update", Fault(error="message_not_found"))
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="investigating", actor=user)
    row = IncidentSlackChannel.objects.get(incident=incident)
    assert row.summary_ts and row.summary_ts != old_ts
    assert channel_messages(incident, "summary.update").get().external_id == row.summary_ts
    reposted = [p for p in slack.delivered("chat.postMessage") if p["channel"] == row.channel_id][-1]
    assert "*Status:* Investigating" in reposted["text"]


# --- Updates and closing ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_posted_update_goes_into_the_channel(user, slack, django_capture_on_commit_callbacks):
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_post_update(incident=incident, text="Rolled back <!here> v42", actor=user)
    row = IncidentSlackChannel.objects.get(incident=incident)
    posts = [p for p in slack.delivered("chat.postMessage") if p["channel"] == row.channel_id]
    assert len(posts) == 2  # the summary, then the update
    assert "Rolled back &lt;!here&gt; v42" in posts[-1]["text"]
    assert posts[-1]["text"].startswith(":mega: *Update* from ")


@pytest.mark.django_db
def test_closing_archives_the_channel_and_later_events_stay_out(
    user, slack, django_capture_on_commit_callbacks
):
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="resolved", actor=user)
    assert slack.delivered("conversations.archive") == []
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="closed", actor=user)
    row = IncidentSlackChannel.objects.get(incident=incident)
    assert [p["channel"] for p in slack.delivered("conversations.archive")] == [row.channel_id]
    assert row.archived_at is not None
    assert "*Status:* Closed" in slack.delivered("chat.update")[-1]["text"]
    # The final summary edit reached Slack before the archive.
    edit = channel_messages(incident, "summary.update").order_by("-pk").first()
    archive = channel_messages(incident, "channel.archive").get()
    assert edit.sent_at <= archive.sent_at
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_add_note(incident=incident, text="post-close note", actor=user)
        services.incident_update(incident=incident, actor=user, summary="Root cause: a bad deploy")
    assert channel_messages(incident, "summary.update").count() == 2


@pytest.mark.django_db
def test_archive_waits_for_the_channel(user, slack, django_capture_on_commit_callbacks):
    slack.fail_next("conversations.create", Fault(status=503))
    incident = declare(django_capture_on_commit_callbacks, title="Blip", actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="declined", actor=user)
    archive = channel_messages(incident, "channel.archive").get()
    assert archive.status == Message.Status.FAILED
    retry(channel_messages(incident))
    assert [p["channel"] for p in slack.delivered("conversations.archive")] == [
        IncidentSlackChannel.objects.get(incident=incident).channel_id
    ]


@pytest.mark.django_db
def test_operations_given_up_while_waiting_are_revived_when_the_channel_exists(
    settings, user, slack, django_capture_on_commit_callbacks
):
    slack.fail_next("conversations.create", Fault(status=500))
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    create = channel_messages(incident, "channel.create").get()
    waiting = list(channel_messages(incident).exclude(pk=create.pk))
    settings.NOTIFY_MAX_ATTEMPTS = 2
    Message.objects.filter(pk=create.pk).update(attempts=0)  # the creation has retries left, the others not
    slack.fail_next("conversations.create", Fault(status=500))
    retry(channel_messages(incident))  # a long outage: the waiting operations give up
    assert channel_messages(incident, "channel.create").get().status == Message.Status.FAILED
    assert {m.status for m in channel_messages(incident).exclude(pk=create.pk)} == {Message.Status.DEAD}
    settings.NOTIFY_MAX_ATTEMPTS = 10
    with django_capture_on_commit_callbacks(execute=True):
        retry([create])
    assert {m.status for m in channel_messages(incident)} == {Message.Status.SENT}
    assert len(waiting) == 2 and len(slack.delivered("conversations.invite")) == 1


@pytest.mark.django_db
def test_an_unknown_person_is_not_invited_but_the_channel_still_works(
    slack, django_capture_on_commit_callbacks
):
    stranger = UserFactory(username="carol")  # not known to Slack by email
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=stranger)
    invite = channel_messages(incident, "channel.invite").get()
    assert invite.status == Message.Status.DEAD
    assert "users_not_found" in invite.last_error
    assert channel_messages(incident, "summary.post").get().status == Message.Status.SENT


@pytest.mark.django_db
def test_an_incident_made_private_later_stops_feeding_its_public_channel(
    user, slack, django_capture_on_commit_callbacks
):
    incident = declare(django_capture_on_commit_callbacks, title="Odd logins", actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_update(incident=incident, actor=user, private=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_post_update(incident=incident, text="The leaked key is AKIA123", actor=user)
    last = slack.delivered("chat.update")[-1]["text"]
    assert f"INC-{incident.pk} is now private" in last
    assert "Odd logins" not in last
    assert not any("AKIA123" in p.get("text", "") for p in slack.delivered("chat.postMessage"))
    assert not channel_messages(incident, "channel.post").exists()


@pytest.mark.django_db
def test_an_update_queued_before_the_incident_went_private_is_not_posted(
    user, slack, django_capture_on_commit_callbacks
):
    RoutingRule.objects.all().delete()  # only the channel's own messages reach Slack
    incident = declare(django_capture_on_commit_callbacks, title="Odd logins", actor=user)
    slack.fail_next("chat.postMessage", Fault(status=500))
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_post_update(incident=incident, text="The leaked key is AKIA123", actor=user)
    post = channel_messages(incident, "channel.post").get()
    assert post.status == Message.Status.FAILED
    Incident.objects.filter(pk=incident.pk).update(private=True)
    retry([post])
    post.refresh_from_db()
    assert post.status == Message.Status.DEAD
    assert not any("AKIA123" in p.get("text", "") for p in slack.delivered("chat.postMessage"))


@pytest.mark.django_db
def test_a_channel_archived_by_hand_counts_as_archived(user, slack, django_capture_on_commit_callbacks):
    incident = declare(django_capture_on_commit_callbacks, title="Checkout errors", actor=user)
    row = IncidentSlackChannel.objects.get(incident=incident)
    slack.archived.add(row.channel_id)  # someone archived it in Slack already
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_transition(incident=incident, to="resolved", actor=user)
        services.incident_transition(incident=incident, to="closed", actor=user)
    archive = channel_messages(incident, "channel.archive").get()
    assert archive.status == Message.Status.SENT
    assert slack.received("conversations.archive")[0].params["channel"] == row.channel_id
    assert IncidentSlackChannel.objects.get(incident=incident).archived_at is not None


@pytest.mark.django_db
def test_roles_handed_out_before_the_channel_exists_are_invited_with_it(
    user, member, slack, django_capture_on_commit_callbacks
):
    messenger = UserFactory(username="dana")
    slack.users_by_email["dana@example.com"] = "UDANA"
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_declare(title="Checkout errors", severity="critical", actor=user)
        services.incident_assign_role(incident=incident, role="lead", user=member, actor=user)
        services.incident_assign_role(incident=incident, role="messenger", user=messenger, actor=user)
    invited = sorted(p["users"] for p in slack.delivered("conversations.invite"))
    assert invited == ["UALICE", "UBOB", "UDANA"]
    summary = slack.delivered("chat.update")[-1]["text"]
    assert "*Messenger:* " + (messenger.get_full_name() or "dana") in summary


@pytest.mark.django_db(transaction=True)
def test_an_edit_that_read_the_incident_before_a_change_sends_the_change_too(user, slack):
    """Two workers editing at once: the one that read the old state sends again after its edit.

    Committed transactions (no test transaction): after-commit delivery runs at once, in-process."""
    incident = services.incident_declare(title="Checkout errors", severity="critical", actor=user)
    assert IncidentSlackChannel.objects.get(incident=incident).summary_ts
    changed = []

    def change_while_on_the_way(method, params):
        """Another worker's change commits while this edit is on its way to Slack."""
        if method == "chat.update" and not changed:
            try:
                changed.append(Incident.objects.filter(pk=incident.pk).update(status="monitoring"))
            except Exception as exc:  # shown by the assertion below
                changed.append(exc)
            finally:
                connection.close()

    slack.on_request = change_while_on_the_way
    services.incident_transition(incident=incident, to="investigating", actor=user)
    assert changed == [1]
    assert channel_messages(incident, "summary.update").get().status == Message.Status.SENT
    texts = [u["text"] for u in slack.delivered("chat.update")]
    assert len(texts) == 2
    assert "*Status:* Investigating" in texts[0]
    assert "*Status:* Monitoring" in texts[1]


# --- With a real Celery worker, Redis and PostgreSQL ------------------------------------------------------


@pytest.fixture
def real_broker():
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True
    terminate_other_sessions()


@pytest.fixture
def private_redis(tmp_path):
    redis = RedisServer(tmp_path).start()
    yield redis
    redis.stop()


def worker_env(slack) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "SLACK_INCIDENT_CHANNELS": "1",
        "EMAIL_URL": "consolemail://",
        "NOTIFY_EMAIL": "0",
        "NOTIFY_LEASE_SECONDS": "4",
        "NOTIFY_GRACE_SECONDS": "2",
        "NOTIFY_SWEEP_SECONDS": "1",
        "CONSUMER_SWEEP_SECONDS": "1",
        "TIMELINE_CONSUMER_GRACE_SECONDS": "2",
        "MUSTER_PLUGINS": "",
        "NOTIFY_REMINDER_SECONDS": "3600",
    }


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@needs_worker_stack
def test_a_real_worker_builds_the_channel_through_a_slack_outage(
    real_broker, private_redis, user, member, slack, tmp_path
):
    RoutingRule.objects.all().delete()  # only the channel's own messages
    slack.fail_next("conversations.create", Fault(status=500), Fault(status=503, retry_after=1))
    # A private broker: no task left in the shared one by earlier worker tests can reach this worker.
    with (
        publishing_to(private_redis.url),
        Worker(tmp_path, beat=True, env=worker_env(slack) | {"REDIS_URL": private_redis.url}) as worker,
    ):
        incident = services.incident_declare(
            title="Checkout errors", severity="critical", actor=user, lead=member
        )
        services.incident_transition(incident=incident, to="investigating", actor=user)
        services.incident_change_severity(incident=incident, severity="major", actor=user)
        services.incident_post_update(incident=incident, text="Rolling back v42", actor=user)

        def settled():
            statuses = set(channel_messages(incident).values_list("status", flat=True))
            return channel_messages(incident).count() == 8 and statuses == {Message.Status.SENT}

        if not wait_for(settled, 90):
            # Printed in full (an assertion message would be cut short): what each operation did, and the worker.
            for row in Message.objects.filter(incident=incident).order_by("pk"):
                print(row.pk, row.kind, row.status, row.attempts, row.next_attempt_at, repr(row.last_error))
            print(
                list(ConsumerRun.objects.filter(event__incident=incident).values_list("consumer", "status"))
            )
            print(worker.text()[-12000:])
            pytest.fail("The incident channel's operations did not all finish within 90 s (see the output).")
    row = IncidentSlackChannel.objects.get(incident=incident)
    assert len(slack.received("conversations.create")) == 3
    assert len(slack.delivered("conversations.create")) == 1
    assert sorted(p["users"] for p in slack.delivered("conversations.invite")) == ["UALICE", "UBOB"]
    posts = [p["text"] for p in slack.delivered("chat.postMessage") if p["channel"] == row.channel_id]
    # The summary and the update both wait for the channel; once it exists either may be posted first.
    assert len(posts) == 2
    assert sum("Rolling back v42" in post for post in posts) == 1
    final = slack.delivered("chat.update")[-1]["text"]
    assert "*Status:* Investigating" in final and "*Severity:* Major" in final
