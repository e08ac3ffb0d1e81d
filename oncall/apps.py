from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call"

    def ready(self) -> None:
        from core.slots import register_nav, register_panel

        register_nav(
            name="oncall",
            label="On call",
            url_name="oncall:index",
            icon="clock",
            order=40,
            namespaces=("oncall",),
        )
        register_panel("team.actions", name="oncall", template="oncall/panels/team_oncall.html", order=10)

        # Who is on call for a team, for notifications.recipients.team_oncall (reminders, and so paging).
        from notifications.recipients import register_oncall_resolver
        from oncall.selectors import team_oncall

        register_oncall_resolver(team_oncall)
