from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "statuspage"
    verbose_name = "Status page"

    def ready(self) -> None:
        from core.slots import register_panel
        from statuspage import consumers, kinds, panels

        # An incident made private drops the pages that showed its public incident at once.
        consumers.register()
        kinds.register()
        # The messenger publishes from the incident page.
        register_panel(
            "incident.main",
            name="statuspage",
            order=30,
            template="statuspage/panel.html",
            context=panels.incident_panel,
        )
