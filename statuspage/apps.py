from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "statuspage"
    verbose_name = "Status page"

    def ready(self) -> None:
        from statuspage import consumers

        # An incident made private drops the pages that showed its public incident at once.
        consumers.register()
