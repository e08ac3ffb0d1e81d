from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call"

    def ready(self) -> None:
        from core.slots import register_nav, register_panel
        from incidents.kinds import register_kind

        register_nav(
            name="oncall",
            label="On call",
            url_name="oncall:index",
            icon="clock",
            order=40,
            namespaces=("oncall",),
        )
        register_panel("team.actions", name="oncall", template="oncall/panels/team_oncall.html", order=10)
        register_panel("incident.main", name="paging", template="oncall/paging/slot.html", order=20)

        for value, label, icon in (
            ("paged", "Paged", "alert"),
            ("page_acknowledged", "Page acknowledged", "check"),
            ("page_exhausted", "Page unanswered", "alert"),
        ):
            register_kind(value, label=label, icon=icon, template=f"oncall/timeline/{value}.html")

        # Paging: auto-page on declare, stop pages when the incident is no longer open.
        from oncall import paging

        paging.register_consumers()

        # Schedules: who is on call for a team, for notifications.recipients.team_oncall (and so for paging).
        from notifications.recipients import register_oncall_resolver
        from oncall.selectors import team_oncall_users

        register_oncall_resolver(team_oncall_users)
