"""Nudges: update cadence, no lead, not closed. Time is passed in as ``now=``; nothing sleeps."""

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Incident, Severity, TimelineEvent
from notifications import reminders, tasks
from notifications.models import Contact, Message, Reminder
from notifications.recipients import register_oncall_resolver, unregister_oncall_resolver
from notifications.reminders import CLOSE_DUE, NO_LEAD, UPDATE_DUE, reminders_check, reminders_due
from notifications.render import incident_url
from teams.models import Membership
from tests.factories import MembershipFactory, UserFactory

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def team_lead(team):
    """A lead of the ``team`` fixture: the team's on-call until an on-call app says otherwise."""
    return MembershipFactory(team=team, user=UserFactory(username="carol"), role=Membership.Role.LEAD).user


@pytest.fixture
def messenger(db):
    return UserFactory(username="dora")


def declare(actor, team, *, severity="critical", customer_impact=True, lead=None, private=False):
    return services.incident_declare(
        title="Checkout is down",
        severity=severity,
        actor=actor,
        team=team,
        customer_impact=customer_impact,
        private=private,
        lead=lead,
    )


def interval(slug: str) -> timedelta:
    return timedelta(minutes=Severity.objects.get(slug=slug).update_interval_minutes)


def kinds(incident) -> list[str]:
    return list(Reminder.objects.filter(incident=incident).order_by("pk").values_list("kind", flat=True))


def reminder_events(incident):
    return list(TimelineEvent.objects.filter(incident=incident, kind="reminder").order_by("pk"))


def parsed(mail):
    """A received mail with its headers decoded and its parts reachable (the peer keeps the raw message)."""
    return message_from_bytes(mail.as_bytes(), policy=policy.default)


def resolve(incident, actor):
    for status in ("investigating", "resolved"):
        services.incident_transition(incident=incident, to=status, actor=actor)
    incident.refresh_from_db()
    return incident


# --- Update cadence -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_update_reminder_fires_after_the_interval_and_not_before(member, team):
    incident = declare(member, team, lead=member)
    t0 = incident.declared_at
    every = interval("critical")

    assert reminders_check(now=t0 + every - SECOND) == 0
    assert kinds(incident) == []

    assert reminders_check(now=t0 + every) == 1
    reminder = Reminder.objects.get(incident=incident)
    assert reminder.kind == UPDATE_DUE
    assert reminder.key == f"update:{incident.pk}:d:1"
    (event,) = reminder_events(incident)
    assert reminder.event == event
    assert event.data["reminder"] == UPDATE_DUE
    assert event.data["interval_minutes"] == every.total_seconds() // 60
    # No messenger: the lead is reminded, and the timeline says so in words.
    assert event.data["recipients"] == [{"user": member.pk, "as": "lead"}]
    assert "No customer-facing update for" in event.text
    assert "to post an update" in event.text


@pytest.mark.django_db
def test_update_reminder_is_sent_once_however_often_it_is_checked(member, team):
    incident = declare(member, team, lead=member)
    at = incident.declared_at + interval("critical") + 2 * MINUTE

    assert reminders_check(now=at) == 1
    assert reminders_check(now=at) == 0
    assert reminders_check(now=at + MINUTE) == 0  # same cadence window
    assert kinds(incident) == [UPDATE_DUE]
    assert len(reminder_events(incident)) == 1


@pytest.mark.django_db
def test_without_any_update_it_reminds_again_every_interval(member, team):
    incident = declare(member, team, lead=member)
    t0, every = incident.declared_at, interval("critical")

    assert reminders_check(now=t0 + every) == 1
    assert reminders_check(now=t0 + 2 * every - SECOND) == 0
    assert reminders_check(now=t0 + 2 * every) == 1
    # A beat that was down for a long time sends one reminder, not one per missed window.
    assert reminders_check(now=t0 + 5 * every) == 1
    assert list(Reminder.objects.filter(incident=incident).values_list("key", flat=True).order_by("pk")) == [
        f"update:{incident.pk}:d:1",
        f"update:{incident.pk}:d:2",
        f"update:{incident.pk}:d:5",
    ]


@pytest.mark.django_db
def test_a_new_update_resets_the_cadence(member, team):
    incident = declare(member, team, lead=member)
    t0, every = incident.declared_at, interval("critical")
    assert reminders_check(now=t0 + every) == 1

    update = services.incident_post_update(incident=incident, text="Rolling back the deploy.", actor=member)
    posted_at = t0 + every + 3 * MINUTE
    TimelineEvent.objects.filter(pk=update.pk).update(
        occurred_at=posted_at
    )  # posted 3 minutes after the nudge

    assert reminders_check(now=t0 + 2 * every) == 0  # the old cadence would have fired here
    assert reminders_check(now=posted_at + every - SECOND) == 0
    assert reminders_check(now=posted_at + every) == 1
    latest = Reminder.objects.filter(incident=incident).first()
    assert latest.key == f"update:{incident.pk}:e{update.pk}:1"
    assert reminder_events(incident)[-1].data["last_update_id"] == update.pk


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "minutes"), [("critical", 15), ("major", 45)])
def test_each_severity_has_its_own_interval(member, team, slug, minutes):
    Severity.objects.filter(slug=slug).update(update_interval_minutes=minutes)
    incident = declare(member, team, severity=slug, lead=member)
    t0 = incident.declared_at

    assert reminders_check(now=t0 + timedelta(minutes=minutes) - SECOND) == 0
    assert reminders_check(now=t0 + timedelta(minutes=minutes)) == 1
    assert kinds(incident) == [UPDATE_DUE]


@pytest.mark.django_db
def test_an_interval_of_zero_switches_update_reminders_off(member, team):
    Severity.objects.filter(slug="major").update(update_interval_minutes=0)
    incident = declare(member, team, severity="major", lead=member)
    assert reminders_check(now=incident.declared_at + timedelta(days=2)) == 0
    assert kinds(incident) == []


@pytest.mark.django_db
def test_no_update_reminders_without_customer_impact(member, team):
    incident = declare(member, team, customer_impact=False, lead=member)
    assert reminders_check(now=incident.declared_at + 10 * interval("critical")) == 0
    assert kinds(incident) == []


@pytest.mark.django_db
def test_update_reminder_goes_to_the_messenger_before_the_lead(member, team, messenger):
    incident = declare(member, team, lead=member)
    services.incident_assign_role(incident=incident, role="messenger", user=messenger, actor=member)
    reminders_check(now=incident.declared_at + interval("critical"))
    (event,) = reminder_events(incident)
    assert event.data["recipients"] == [{"user": messenger.pk, "as": "messenger"}]


@pytest.mark.django_db
def test_update_reminder_falls_back_to_the_declarer(member, team, team_lead):
    incident = declare(member, team)
    reminders_check(now=incident.declared_at + interval("critical"))
    update = Reminder.objects.get(incident=incident, kind=UPDATE_DUE)
    assert update.event.data["recipients"] == [{"user": member.pk, "as": "declarer"}]


# --- No lead --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_lead_nudges_the_declarer_and_the_on_call_once(settings, member, team, team_lead):
    settings.NOTIFY_NO_LEAD_MINUTES = 5
    incident = declare(member, team, customer_impact=False)
    t0 = incident.declared_at

    assert reminders_check(now=t0 + 5 * MINUTE - SECOND) == 0
    assert reminders_check(now=t0 + 5 * MINUTE) == 1
    assert reminders_check(now=t0 + 5 * MINUTE) == 0
    assert reminders_check(now=t0 + timedelta(hours=3)) == 0  # once per incident
    reminder = Reminder.objects.get(incident=incident)
    assert (reminder.kind, reminder.key) == (NO_LEAD, f"no-lead:{incident.pk}")
    assert reminder.event.data["recipients"] == [
        {"user": member.pk, "as": "declarer"},
        {"user": team_lead.pk, "as": "on-call"},
    ]
    assert "No incident lead for 5 minutes" in reminder.event.text
    assert "to assign a lead" in reminder.event.text


@pytest.mark.django_db
def test_no_lead_honours_the_setting(settings, member, team):
    settings.NOTIFY_NO_LEAD_MINUTES = 12
    incident = declare(member, team, customer_impact=False)
    assert reminders_check(now=incident.declared_at + 12 * MINUTE - SECOND) == 0
    assert reminders_check(now=incident.declared_at + 12 * MINUTE) == 1


@pytest.mark.django_db
def test_an_incident_with_a_lead_is_not_nudged_for_one(member, team):
    incident = declare(member, team, customer_impact=False, lead=member)
    assert reminders_check(now=incident.declared_at + timedelta(hours=5)) == 0


@pytest.mark.django_db
def test_a_relieved_lead_starts_the_no_lead_clock_again(settings, member, team):
    settings.NOTIFY_NO_LEAD_MINUTES = 5
    incident = declare(member, team, customer_impact=False, lead=member)
    relieved = services.incident_relieve_role(incident=incident, role="lead", actor=member)
    later = incident.declared_at + timedelta(hours=1)
    type(relieved).objects.filter(pk=relieved.pk).update(relieved_at=later)

    assert reminders_check(now=later + 5 * MINUTE - SECOND) == 0
    assert reminders_check(now=later + 5 * MINUTE) == 1
    assert kinds(incident) == [NO_LEAD]


# --- Not closed -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_close_reminder_goes_to_the_lead_a_day_after_resolving(settings, member, team):
    settings.NOTIFY_CLOSE_AFTER_HOURS = 24
    incident = resolve(declare(member, team, lead=member), member)
    resolved_at = incident.resolved_at

    assert reminders_check(now=resolved_at + timedelta(hours=24) - SECOND) == 0
    assert reminders_check(now=resolved_at + timedelta(hours=24)) == 1
    assert reminders_check(now=resolved_at + timedelta(hours=48)) == 0
    reminder = Reminder.objects.get(incident=incident)
    assert reminder.kind == CLOSE_DUE
    assert reminder.key == f"close:{incident.pk}:{int(resolved_at.timestamp())}"
    assert reminder.event.data["recipients"] == [{"user": member.pk, "as": "lead"}]
    assert "close it or re-open it" in reminder.event.text


@pytest.mark.django_db
def test_a_reopened_and_resolved_again_incident_is_reminded_again(member, team):
    incident = resolve(declare(member, team, lead=member), member)
    first = incident.resolved_at
    assert reminders_check(now=first + timedelta(hours=25)) == 1

    services.incident_transition(incident=incident, to="investigating", actor=member)
    services.incident_transition(incident=incident, to="resolved", actor=member)
    second = first + timedelta(hours=30)
    Incident.objects.filter(pk=incident.pk).update(resolved_at=second)

    assert reminders_check(now=second + timedelta(hours=23)) == 0
    assert reminders_check(now=second + timedelta(hours=24)) == 1
    assert [k for k in kinds(incident) if k == CLOSE_DUE] == [CLOSE_DUE, CLOSE_DUE]


@pytest.mark.django_db
def test_a_closed_incident_gets_nothing(member, team):
    incident = resolve(declare(member, team), member)  # no lead, customer impact: every rule could apply
    services.incident_transition(incident=incident, to="closed", actor=member)
    assert reminders_check(now=incident.declared_at + timedelta(days=30)) == 0
    assert kinds(incident) == []


@pytest.mark.django_db
def test_a_declined_incident_gets_nothing(member, team):
    incident = declare(member, team)
    services.incident_transition(incident=incident, to="declined", actor=member)
    assert reminders_check(now=incident.declared_at + timedelta(days=30)) == 0


# --- Idempotence under races ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_that_lost_the_race_sends_nothing(member, team):
    incident = declare(member, team, lead=member)
    at = incident.declared_at + interval("critical")
    (due,) = reminders_due(now=at)  # both runs saw it due ...
    assert reminders.reminder_send(due=due, now=at) is not None  # ... one wrote it first
    assert reminders.reminder_send(due=due, now=at) is None  # the other hits the unique key and rolls back
    assert Reminder.objects.filter(incident=incident).count() == 1
    assert len(reminder_events(incident)) == 1


@pytest.mark.django_db
def test_a_reminder_that_stopped_being_due_is_not_sent(member, team):
    incident = declare(member, team, lead=member)
    at = incident.declared_at + interval("critical")
    (due,) = reminders_due(now=at)
    update = services.incident_post_update(incident=incident, text="Still looking.", actor=member)
    TimelineEvent.objects.filter(pk=update.pk).update(occurred_at=at - MINUTE)  # landed just before the send
    assert reminders.reminder_send(due=due, now=at) is None
    assert reminder_events(incident) == []


@pytest.mark.django_db
def test_the_beat_task_sends_due_reminders(member, team):
    incident = declare(member, team, lead=member)
    Incident.objects.filter(pk=incident.pk).update(
        declared_at=incident.declared_at - 2 * interval("critical")
    )
    assert tasks.check_reminders.delay().get() == 1
    assert tasks.check_reminders.delay().get() == 0
    assert kinds(incident) == [UPDATE_DUE]


# --- Delivery -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reminders_reach_people_by_slack_dm_and_email(
    settings, member, team, team_lead, slack_peer, smtp_peer, django_capture_on_commit_callbacks
):
    settings.NOTIFY_NO_LEAD_MINUTES = 5
    Contact.objects.create(user=team_lead, slack_user_id="U0CAROL")
    slack_peer.users_by_email[member.email] = "U0BOB"
    incident = declare(member, team, customer_impact=False)

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_check(now=incident.declared_at + 5 * MINUTE) == 1

    (event,) = reminder_events(incident)
    rows = Message.objects.filter(event=event)
    assert {m.status for m in rows} == {Message.Status.SENT}
    assert sorted((m.channel, m.recipient_id) for m in rows) == sorted(
        [("slack", member.pk), ("email", member.pk), ("slack", team_lead.pk), ("email", team_lead.pk)]
    )
    assert {m.dedupe_key.rsplit(":u", 1)[0] for m in rows} == {f"reminder:{event.pk}"}

    dms = {p["channel"]: p["text"] for p in slack_peer.delivered("chat.postMessage")}
    assert set(dms) == {"U0BOB", "U0CAROL"}
    url = incident_url(incident)
    assert "assign a lead" in dms["U0CAROL"]
    assert f"<{url}|" in dms["U0CAROL"]
    assert "You are on call for Payments" in dms["U0CAROL"]
    assert "You declared it" in dms["U0BOB"]
    assert "UTC" in dms["U0BOB"]

    mails = {m["X-Peer-Rcpt"]: parsed(m) for m in smtp_peer.received()}
    assert set(mails) == {member.email, team_lead.email}
    mail = mails[team_lead.email]
    subject = f"[INC-{incident.pk}] Reminder: assign a lead · Checkout is down"
    assert mail["Subject"].strip() == subject
    assert rows.get(channel="email", recipient=team_lead).subject == subject
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert url in text and url in html
    assert "UTC" in text
    assert "you are on call for its team" in text


@pytest.mark.django_db
def test_update_and_close_reminders_say_what_to_do(
    member, team, slack_peer, smtp_peer, django_capture_on_commit_callbacks
):
    slack_peer.users_by_email[member.email] = "U0BOB"
    incident = declare(member, team, lead=member)
    with django_capture_on_commit_callbacks(execute=True):
        reminders_check(now=incident.declared_at + interval("critical"))
    resolve(incident, member)
    with django_capture_on_commit_callbacks(execute=True):
        reminders_check(now=incident.resolved_at + timedelta(hours=24))

    texts = [p["text"] for p in slack_peer.delivered("chat.postMessage")]
    assert len(texts) == 2
    assert "post an update" in texts[0] and "You lead this incident" in texts[0]
    assert "close it or re-open it" in texts[1] and "resolved 1 day ago" in texts[1]
    subjects = sorted(parsed(m)["Subject"].strip() for m in smtp_peer.received())
    assert subjects == [
        f"[INC-{incident.pk}] Reminder: close it or re-open it · Checkout is down",
        f"[INC-{incident.pk}] Reminder: post an update · Checkout is down",
    ]


@pytest.mark.django_db
def test_user_text_is_escaped_in_slack_and_html(
    member, team, slack_peer, smtp_peer, django_capture_on_commit_callbacks
):
    slack_peer.users_by_email[member.email] = "U0BOB"
    incident = services.incident_declare(
        title="<!channel> <script>x</script>",
        severity="critical",
        actor=member,
        team=team,
        customer_impact=True,
        lead=member,
    )
    with django_capture_on_commit_callbacks(execute=True):
        reminders_check(now=incident.declared_at + interval("critical"))
    (dm,) = slack_peer.delivered("chat.postMessage")
    assert "<!channel>" not in dm["text"]
    assert "&lt;!channel&gt;" in dm["text"]
    (mail,) = smtp_peer.received()
    html = parsed(mail).get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<br>" in html  # the two lines of the reminder stay two lines


@pytest.mark.django_db
def test_private_incident_reminds_only_people_who_can_see_it(
    settings, member, team, team_lead, slack_peer, django_capture_on_commit_callbacks
):
    settings.NOTIFY_NO_LEAD_MINUTES = 5
    outsider = UserFactory(username="olga")
    slack_peer.users_by_email.update(
        {member.email: "U0BOB", team_lead.email: "U0CAROL", outsider.email: "U0OLGA"}
    )

    def oncall(team_, at):
        return [outsider, team_lead]

    register_oncall_resolver(oncall)
    try:
        private = declare(member, team, customer_impact=False, private=True)
        public = declare(member, team, customer_impact=False)
        with django_capture_on_commit_callbacks(execute=True):
            assert reminders_check(now=public.declared_at + 5 * MINUTE) == 2
    finally:
        unregister_oncall_resolver(oncall)

    private_event = reminder_events(private)[0]
    public_event = reminder_events(public)[0]
    assert [r["user"] for r in private_event.data["recipients"]] == [member.pk, team_lead.pk]
    assert [r["user"] for r in public_event.data["recipients"]] == [member.pk, outsider.pk, team_lead.pk]
    olga = [p for p in slack_peer.delivered("chat.postMessage") if p["channel"] == "U0OLGA"]
    assert len(olga) == 1 and f"INC-{public.pk}" in olga[0]["text"]
    assert not Message.objects.filter(event=private_event, recipient=outsider).exists()


@pytest.mark.django_db
def test_nobody_to_remind_is_still_noted_on_the_timeline(member, team):
    incident = declare(member, team, lead=member)
    type(member).objects.filter(pk=member.pk).update(is_active=False)
    assert reminders_check(now=incident.declared_at + interval("critical")) == 1
    (event,) = reminder_events(incident)
    assert event.data["recipients"] == []
    assert "Nobody could be reminded to post an update" in event.text


# --- Cost -----------------------------------------------------------------------------------------


def _scan_queries(member, team, n: int, *, already_reminded: bool) -> int:
    incidents = [declare(member, team, lead=member) for _ in range(n)]
    t0 = max(i.declared_at for i in incidents)
    at = t0 + interval("critical") + MINUTE if already_reminded else t0 + MINUTE
    if already_reminded:
        assert reminders_check(now=at) == n
    with CaptureQueriesContext(connection) as queries:
        assert reminders_check(now=at) == 0
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("already_reminded", [False, True], ids=["nothing-due", "all-sent"])
def test_the_scan_costs_the_same_for_3_and_30_incidents(member, team, already_reminded):
    few = _scan_queries(member, team, 3, already_reminded=already_reminded)
    Incident.objects.all().delete()
    many = _scan_queries(member, team, 30, already_reminded=already_reminded)
    assert few == many
    assert many <= 2


# --- Two workers at once (needs PostgreSQL: SQLite serialises everything) -------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent inserts need PostgreSQL"
)
def test_two_workers_checking_at_once_send_one_reminder(member, team):
    import threading

    from django.db import connections

    incident = declare(member, team, lead=member)
    at = incident.declared_at + interval("critical")
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(reminders_check(now=at))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [0, 1]
    assert Reminder.objects.filter(incident=incident).count() == 1
    assert len(reminder_events(incident)) == 1
