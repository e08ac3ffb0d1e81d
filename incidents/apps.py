from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from core.slots import register_nav, register_panel
        from incidents.hints import register_core
        from incidents.timeline import register_core_kinds

        register_core_kinds()
        register_core()  # the header's hints: no lead, no messenger, resolved but not closed
        register_nav(
            name="dashboard",
            label="Dashboard",
            url_name="incidents:dashboard",
            icon="home",
            order=10,
            namespaces=("incidents:dashboard",),
        )
        register_nav(
            name="incidents",
            label="Incidents",
            url_name="incidents:list",
            icon="list",
            order=20,
            namespaces=("incidents",),
        )
        register_panel(
            "page.actions", name="declare", template="incidents/panels/declare_button.html", order=10
        )
        register_panel("page.search", name="switcher", template="incidents/panels/switcher.html", order=10)
        register_panel(
            "team.actions", name="declare", template="incidents/panels/team_declare.html", order=90
        )
        register_panel(
            "team.main", name="open_incidents", template="incidents/panels/team_open.html", order=10
        )
        register_panel("team.card", name="open_count", template="incidents/panels/team_card.html", order=10)
        register_panel(
            "team.list", name="open_counts", template="incidents/panels/team_counts.html", order=10
        )
