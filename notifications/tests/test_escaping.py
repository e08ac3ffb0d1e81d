"""Nothing a user writes can inject markup into an outgoing message: every Slack template and every HTML part of a
mail, found by walking the template directories (a new template is covered without editing this file), rendered
with a hostile value in every field it can show."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.template import TemplateSyntaxError
from django.template.utils import get_app_template_dirs

from incidents.models import Incident, Role, Severity, TimelineEvent
from notifications import channels, render
from notifications.escaping import mrkdwn, mrkdwn_text, slack_escape, slack_link
from teams.models import Team

SITE = "https://muster.example"
URL = f"{SITE}/incidents/42/"
ACK_URL = f"{SITE}/oncall/pages/7/ack/tok/"
AT = datetime(2026, 3, 25, 12, 5, tzinfo=UTC)


def hostile(field: str) -> str:
    """What an attacker would name a team, a person, an incident...: a mention, a forged link, an HTML image, and
    the field's own marker (to check the value does reach the output)."""
    return (
        f"[{field}] <!channel> <http://evil.example/login|Re-authenticate here> "
        f"<img src=https://evil.example/p.gif> & \"q\" 'a'"
    )


def person(field: str):
    first, last = hostile(field).split(" ", 1)
    return get_user_model()(username=hostile(field + ".username"), first_name=first, last_name=last)


def nameless(field: str):
    return get_user_model()(username=hostile(field))


#: Every event kind the event line knows, a kind with a recap template (the reminder's, the test wing's), and a kind
#: without one.
EVENT_KINDS = [
    "declared",
    "status_changed",
    "severity_changed",
    "update_posted",
    "role_assigned",
    "role_relieved",
    "reminder",
    "wing.pinged",
    "fields_changed",
]
REMINDERS = [
    (kind, role)
    for kind, role in itertools.product(
        ["update-due", "no-lead", "close-due"], ["messenger", "lead", "on-call", "declarer"]
    )
]


def contexts():
    """Contexts with a hostile value in every field a message template reads, over every branch."""
    severity = Severity(
        name=hostile("severity.name"), slug="major", rank=2, colour=hostile("severity.colour")
    )
    team = Team(name=hostile("team.name"), slug="payments")
    for status, (kind, (reminder, as_role)), with_people in itertools.product(
        ["investigating", "declined", hostile("incident.status")],
        itertools.zip_longest(EVENT_KINDS, REMINDERS, fillvalue=EVENT_KINDS[0]),
        [True, False],
    ):
        incident = Incident(
            pk=42,
            title=hostile("incident.title"),
            summary=hostile("incident.summary"),
            status=status,
            severity=severity,
            team=team,
            customer_impact=with_people,
            private=not with_people,
        )
        event = TimelineEvent(
            incident=incident,
            kind=kind,
            actor=person("event.actor") if with_people else nameless("event.actor"),
            occurred_at=AT,
            text=hostile("event.text"),
            data={
                "old": hostile("data.old"),
                "new": hostile("data.new"),
                "role_name": hostile("data.role_name"),
                "room": hostile("data.room"),
            },
        )
        scribe = SimpleNamespace(
            role=Role(name=hostile("role.name"), slug="scribe"), user=person("role.user")
        )
        page = SimpleNamespace(reason=hostile("page.reason"), next_escalation_at=AT if with_people else None)
        yield {
            "event": event,
            "incident": incident,
            "lead": person("lead") if with_people else (nameless("lead") if status != "declined" else None),
            "messenger": person("messenger") if with_people else None,
            "other_roles": [scribe],
            "recipient": person("recipient"),
            "url": URL,
            "ack_url": ACK_URL,
            "page": page,
            "step_label": hostile("step_label"),
            "now": AT,
            "at": AT,
            "since": AT,
            "kind": reminder,
            "as_role": as_role,
            "ask": hostile("ask"),
            "elapsed": hostile("elapsed"),
            "interval_minutes": hostile("interval_minutes"),
            "has_update": with_people,
            "reason": hostile("reason"),
        }


FIELDS = [
    "severity.name",
    "team.name",
    "incident.title",
    "incident.summary",
    "event.actor",
    "event.text",
    "data.old",
    "data.new",
    "data.role_name",
    "role.name",
    "role.user",
    "lead",
    "messenger",
    "page.reason",
    "step_label",
    "ask",
    "elapsed",
]


def message_templates() -> dict[str, dict[str, list[str]]]:
    """``{channel: {"txt": [names], "html": [names]}}`` for every registered transport with templates under
    ``notifications/<channel>/``, in the project's template directory or any app's."""
    from django.conf import settings

    roots = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]] + [
        Path(d) for d in get_app_template_dirs("templates")
    ]
    found: dict[str, dict[str, list[str]]] = {}
    for channel in channels.registry():
        txt, html = set(), set()
        for root in roots:
            folder = root / "notifications" / channel
            txt |= {p.stem for p in folder.glob("*.txt") if not p.stem.endswith("_subject")}
            html |= {p.stem for p in folder.glob("*.html")}
        if txt or html:
            found[channel] = {"txt": sorted(txt), "html": sorted(html)}
    return found


TEMPLATES = message_templates()
SLACK_TEMPLATES = [(c, n) for c, t in TEMPLATES.items() if c in render.SLACK_CHANNELS for n in t["txt"]]
HTML_TEMPLATES = [(c, n) for c, t in TEMPLATES.items() for n in t["html"]]


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


def test_the_walk_finds_the_message_templates():
    assert {"channel_update", "event", "page", "reminder", "summary", "summary_private"} <= {
        n for _, n in SLACK_TEMPLATES
    }
    assert {("email", "event"), ("email", "page"), ("email", "reminder")} <= set(HTML_TEMPLATES)


def assert_slack_safe(text: str, where) -> None:
    assert "<!channel>" not in text, where
    assert "<http" not in text.replace(f"<{SITE}/", ""), where
    assert "<img" not in text, where
    # The only angle brackets left are the links Muster builds to itself, their labels escaped.
    for inside in re.findall(r"<([^>]*)>", text):
        assert inside.startswith(SITE + "/") and "<" not in inside, (where, inside)
    # Slack shows entities other than its own three as they are: quotes stay quotes.
    assert "&quot;" not in text and "&#x27;" not in text, where


@pytest.mark.parametrize(("channel", "name"), SLACK_TEMPLATES)
def test_every_slack_template_escapes_every_field(channel, name):
    out = []
    for context in contexts():
        text = render.render(channel, name, context).text
        assert_slack_safe(text, (name, context["event"].kind, context["incident"].status))
        out.append(text)
    everything = "\n".join(out)
    if "[" in everything:  # a template that shows user text shows it escaped
        assert "&lt;!channel&gt; &lt;http://evil.example/login|Re-authenticate here&gt;" in everything
        assert "&amp;" in everything and "\"q\" 'a'" in everything


def test_every_field_reaches_some_slack_message():
    """The contexts above put each field where a template shows it (else the test proves nothing for it)."""
    everything = "\n".join(
        render.render(channel, name, context).text
        for channel, name in SLACK_TEMPLATES
        for context in contexts()
    )
    missing = [f for f in FIELDS if f"[{f}]" not in everything and f"[{f}.username]" not in everything]
    assert not missing


@pytest.mark.parametrize(("channel", "name"), HTML_TEMPLATES)
def test_every_html_part_escapes_every_field(channel, name):
    out = []
    for context in contexts():
        rendered = render.render(channel, name, context, html=True, subject=True)
        where = (name, context["event"].kind, context["incident"].status)
        assert "<img" not in rendered.html, where
        assert "<!channel" not in rendered.html and "<http" not in rendered.html, where
        assert "\n" not in rendered.subject, where
        out.append(rendered.html)
    everything = "\n".join(out)
    assert "&lt;img src=https://evil.example/p.gif&gt;" in everything
    assert "&quot;q&quot;" in everything  # quotes too: the colour is in a style attribute


#: What the mails do not show (the incident's summary and the other roles are in the Slack summary only).
NOT_IN_MAIL = {"incident.summary", "role.name", "role.user"}


def test_every_field_reaches_some_html_part():
    everything = "\n".join(
        render.render(channel, name, context, html=True).html
        for channel, name in HTML_TEMPLATES
        for context in contexts()
    )
    shown = [f for f in FIELDS if f"[{f}]" in everything or f"[{f}.username]" in everything]
    assert set(FIELDS) - set(shown) == NOT_IN_MAIL


def test_plain_text_is_not_escaped():
    context = next(contexts())
    rendered = render.render("email", "event", context, subject=True)
    assert hostile("incident.title") in rendered.text
    assert "<!channel> <http://evil.example/login|Re-authenticate here>" in rendered.subject
    assert hostile("incident.title") in render.render("webhook", "event", context).text


@pytest.mark.parametrize("fmt", [render.SLACK, render.HTML])
def test_a_slack_or_html_template_cannot_switch_escaping_off(fmt):
    engine = render.engine(fmt)
    with pytest.raises(TemplateSyntaxError):
        engine.from_string("{% autoescape off %}{{ x }}{% endautoescape %}")
    from django.template import Context

    out = engine.from_string("{{ x|safe }} {{ xs|safeseq|join:',' }}").render(
        Context({"x": "<!channel>", "xs": ["<b>"]}, autoescape=engine.autoescape)
    )
    assert out == "&lt;!channel&gt; &lt;b&gt;"


def test_muster_builds_links_and_mrkdwn_in_python_with_the_arguments_escaped():
    assert slack_escape("<!here> & <x>") == "&lt;!here&gt; &amp; &lt;x&gt;"
    assert slack_link(URL, "<!channel>|x") == f"<{URL}|&lt;!channel&gt;|x>"
    assert mrkdwn("*{}* {}", "<b>", slack_link(URL, "a&b")) == f"*&lt;b&gt;* <{URL}|a&amp;b>"
    assert mrkdwn_text("<!channel>") == {"type": "mrkdwn", "text": "&lt;!channel&gt;"}
    assert mrkdwn_text(slack_link(URL, "x"))["text"] == f"<{URL}|x>"


@pytest.mark.django_db
def test_slack_test_message_escapes_the_destination_name_and_sender():
    from notifications.checks import destinations_send_test
    from notifications.models import Destination, Message

    destination = Destination.objects.create(
        name=hostile("destination")[:100], channel="slack", slack_channel="#ops", mention="<!subteam^S0123>"
    )
    actor = get_user_model().objects.create(username="<!everyone>")
    destinations_send_test(destinations=[destination], actor=actor)
    body = Message.objects.get(destination=destination).body
    assert body.startswith("<!subteam^S0123> ")  # the mention the admin configured
    assert_slack_safe(body.removeprefix("<!subteam^S0123> "), "test message")
    assert "&lt;!everyone&gt;" in body and "&lt;!channel&gt;" in body


BLOCK_KIT = re.compile(r"""["']mrkdwn["']""")


def test_mrkdwn_block_kit_text_is_built_only_by_the_escaping_helper():
    """Block Kit JSON built in Python escapes its mrkdwn text: the one place a ``"mrkdwn"`` text object is made is
    ``notifications.escaping.mrkdwn_text``."""
    base = Path(__file__).resolve().parents[2]
    skip = {"tests", ".venv", ".git", "node_modules", "static"}
    offenders = [
        str(path.relative_to(base))
        for path in base.rglob("*.py")
        if not (set(path.relative_to(base).parts) & skip)
        and path.relative_to(base) != Path("notifications/escaping.py")
        and BLOCK_KIT.search(path.read_text())
    ]
    assert not offenders


@pytest.mark.django_db
def test_a_declared_incident_reaches_slack_and_mail_escaped(
    slack_peer, smtp_peer, django_capture_on_commit_callbacks
):
    """The defect as it was reported: a team and a person named to ping the channel and phish, through routing, the
    outbox and the transports to the local Slack and SMTP servers."""
    from email import message_from_bytes, policy

    from incidents import services
    from notifications.models import Destination, RoutingRule
    from tests.factories import TeamFactory, UserFactory

    RoutingRule.objects.update(enabled=False)
    rule = RoutingRule.objects.create(name="All", event_kinds=["declared"])
    rule.destinations.add(
        Destination.objects.create(name="ops", channel="slack", slack_channel="#ops"),
        Destination.objects.create(name="mail", channel="email", email_addresses="ops@example.com"),
    )
    team = TeamFactory(
        name="Platform <!channel> <http://evil.example/login|Re-authenticate here>", slug="platform"
    )
    actor = UserFactory(
        username="mallory", first_name="<img src=https://evil.example/p.gif>", last_name="<!here>"
    )
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_declare(
            title="Checkout <b>down</b>", severity="critical", actor=actor, team=team, lead=actor
        )
    (posted,) = [p for p in slack_peer.delivered("chat.postMessage") if p["channel"] == "#ops"]
    assert_slack_safe(posted["text"], "routed Slack message")
    assert (
        "Team: Platform &lt;!channel&gt; &lt;http://evil.example/login|Re-authenticate here&gt;"
        in posted["text"]
    )
    # The link to the incident still works, its label escaped.
    assert f"*<{SITE}/incidents/{incident.pk}/|Checkout &lt;b&gt;down&lt;/b&gt;>*" in posted["text"]
    (mail,) = smtp_peer.received()
    html = message_from_bytes(mail.as_bytes(), policy=policy.default).get_body(("html",)).get_content()
    assert "<img" not in html and "&lt;img src=https://evil.example/p.gif&gt;" in html


MENTIONS_KEPT = [
    "@marketing-incident",
    "<!subteam^S0123ABCD>",
    "<!subteam^S0123ABCD|@oncall> <@U0123ABCD>",
    "<!here>",
]
MENTIONS_REFUSED = [
    "<http://evil.example/login|Re-authenticate here>",
    "@ops <http://evil.example|x>",
    "*bold* @ops",
    "<!subteam^S0123ABCD|<http://evil.example>>",
    "@ops\n<!channel>",
]


@pytest.mark.parametrize("mention", MENTIONS_KEPT)
def test_a_mention_made_of_mentions_is_kept(mention):
    from notifications.escaping import slack_mention

    assert slack_mention(mention) == mention


@pytest.mark.parametrize("mention", MENTIONS_REFUSED)
def test_a_mention_carrying_anything_else_is_refused_on_save_and_escaped_on_send(mention):
    from core.errors import ValidationError
    from notifications.channels import slack
    from notifications.escaping import slack_mention
    from notifications.models import Destination

    destination = Destination(name="Ops", channel="slack", slack_channel="#ops", mention=mention)
    with pytest.raises(ValidationError):
        slack.SlackTransport().check_destination(destination)
    assert "<http" not in slack_mention(mention)
    assert "<!channel>" not in slack_mention(mention)
