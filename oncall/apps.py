from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call"

    def ready(self) -> None:
        # Paging: auto-page on declare, stop pages when the incident is no longer open.
        from oncall import paging

        paging.register_consumers()
