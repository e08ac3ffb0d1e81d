"""A wing that exists only in the test suite: it plugs into every extension point the house offers, through the
registries alone (no edit to ``incidents/`` or ``notifications/``), so the tests can prove each one works.

* an event kind, ``wing.pinged``, that routing rules may match, with its own timeline template;
* a timeline consumer that reacts to it by writing an outbox message for its own transport;
* a panel on the incident page, with the number of pings (one query), and panels on the team page and the
  dashboard, and entries in the navigation and the account menu;
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


class WingConfig(AppConfig):
    name = "tests.wing"
    label = "wing"

    def ready(self) -> None:
        from core.slots import register_nav, register_panel
        from incidents.consumers import register
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
        register_nav(name="wing", label="Wing room", url_name="incidents:list", icon="bolt", order=99)
        register_nav(name="wing", label="Wing settings", url_name="teams:list", order=99, place="menu")
        register_transport(WingTransport())
