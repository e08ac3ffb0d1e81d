"""A wing that exists only in the test suite: it plugs into every extension point the house offers, through the
registries alone (no edit to ``incidents/`` or ``notifications/``), so the tests can prove each one works.

* an event kind, ``wing.pinged``, that routing rules may match, with its own timeline template;
* a timeline consumer that reacts to it by writing an outbox message for its own transport;
* a panel on the incident page, with the number of pings (one query), and panels on the team page and the
  dashboard, and entries in the navigation (with a badge) and the account menu;
* a hint in the incident header (``incidents.hints``) for incidents whose title starts with "Wing", with a link;
* a transport, ``wing``, that "delivers" by keeping the messages in ``SENT`` (a stand-in for a chat service).
"""

from __future__ import annotations

from django.apps import AppConfig

PINGED = "wing.pinged"
CONSUMER = "wing.echo"
SENT: list[dict] = []


def echo(event) -> None:
    """Timeline consumer: every ping is also sent straight to the wing's room named in the event."""
    from notifications.services import Draft, messages_enqueue

    room = (event.data or {}).get("room")
    if room:
        messages_enqueue(
            [
                Draft(
                    channel="wing",
                    kind="echo",
                    target=room,
                    body=f"echo: {event.text}",
                    dedupe_key=f"wing:echo:{event.pk}",
                    incident_id=event.incident_id,
                    event_id=event.pk,
                )
            ]
        )


def panel_context(incident, user):
    from incidents.models import TimelineEvent

    pings = TimelineEvent.objects.filter(incident_id=incident.pk, kind=PINGED).count()
    return {"pings": pings} if pings else None


def wing_hints(incident, user):
    """A hint for the wing's own incidents (no query: the title is loaded)."""
    from incidents.hints import Hint, HintAction

    if not incident.title.startswith("Wing"):
        return []
    return [
        Hint(
            level="info",
            code="wing.room",
            title="The wing room is open",
            text="Ping the wing for help.",
            actions=(HintAction(label="Open the wing room", url="/incidents/", testid="wing-hint-link"),),
        )
    ]


def wing_badge(user):
    """The navigation badge: a count for the wing's fan, nothing for anyone else."""
    return 2 if user.get_username() == "wing-fan" else None


class WingConfig(AppConfig):
    name = "tests.wing"
    label = "wing"

    def ready(self) -> None:
        from core.slots import register_nav, register_panel
        from incidents.consumers import register
        from incidents.hints import register_hints
        from incidents.kinds import register_kind
        from notifications.channels import register_transport
        from tests.wing.transport import WingTransport

        register_kind(
            PINGED,
            label="Wing pinged",
            icon="bolt",
            template="wing/timeline/pinged.html",
            recap_template="wing/recap.txt",
            routable=True,
        )
        register(CONSUMER, kinds={PINGED}, handler=echo)
        register_panel(
            "incident.main", name="wing", template="wing/panel.html", order=50, context=panel_context
        )
        register_panel("team.main", name="wing", template="wing/team_panel.html", order=50)
        register_panel("dashboard.side", name="wing", template="wing/dashboard_panel.html", order=50)
        register_nav(
            name="wing",
            label="Wing room",
            url_name="incidents:list",
            icon="bolt",
            order=99,
            badge=wing_badge,
            badge_label="waiting",
        )
        register_hints("wing.room", wing_hints, order=90)
        register_nav(name="wing", label="Wing settings", url_name="teams:list", order=99, place="menu")
        register_transport(WingTransport())
