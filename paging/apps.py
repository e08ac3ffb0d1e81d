from django.apps import AppConfig


class PagingConfig(AppConfig):
    name = "paging"
    verbose_name = "Paging"

    def ready(self) -> None:
        from core.slots import register_nav, register_panel
        from incidents.hints import register_hints
        from paging import consumers, hints, kinds, panels, selectors

        register_panel(
            "incident.main",
            name="paging",
            template="paging/panel.html",
            order=20,
            context=panels.incident_panel,
        )
        # A severe incident that nobody is being paged for says so in its header, with a one-click page.
        register_hints("paging.unpaged", hints.unpaged_hints, order=10)
        # The pages ringing for the signed-in person, counted in the navigation.
        register_nav(
            name="pages",
            label="My pages",
            url_name="paging:pages",
            icon="alert",
            order=45,
            namespaces=("paging",),
            badge=lambda user: selectors.ringing_count(user=user),
            badge_label="ringing",
        )
        kinds.register()
        # Auto-page on declare; stop pages when the incident is no longer open.
        consumers.register()
