from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import throttle  # noqa: F401 (connects the login throttle's counters)
        from core.slots import register_nav

        register_nav(
            name="api_tokens",
            label="API tokens",
            url_name="core:api_tokens",
            icon="lock",
            order=80,
            namespaces=("core",),
            place="menu",
        )
