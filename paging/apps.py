from django.apps import AppConfig


class PagingConfig(AppConfig):
    name = "paging"
    verbose_name = "Paging"

    def ready(self) -> None:
        from core.slots import register_panel
        from paging import consumers, kinds, panels

        register_panel(
            "incident.main",
            name="paging",
            template="paging/panel.html",
            order=20,
            context=panels.incident_panel,
        )
        kinds.register()
        # Auto-page on declare; stop pages when the incident is no longer open.
        consumers.register()
