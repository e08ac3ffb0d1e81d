from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "teams"

    def ready(self) -> None:
        from core.slots import register_nav

        register_nav(
            name="teams", label="Teams", url_name="teams:list", icon="users", order=30, namespaces=("teams",)
        )
