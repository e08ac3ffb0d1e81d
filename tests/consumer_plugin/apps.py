"""A plugin app for the worker tests: a consumer that records, on the timeline, that it saw each declaration.

Installed in a worker process with ``MUSTER_PLUGINS=tests.consumer_plugin``; the test process registers the same
consumer through :func:`register_probe`.
"""

import os
import time

from django.apps import AppConfig

PROBE = "tests.probe"


def probe(event) -> None:
    from incidents.models import EventKind, Source
    from incidents.services import timeline_record

    if "slow" in event.incident.title:
        time.sleep(float(os.environ.get("PROBE_SLEEP", "30")))
    timeline_record(
        incident=event.incident,
        kind=EventKind.NOTE_ADDED,
        source=Source.SYSTEM,
        text=f"probe saw event {event.pk} in pid {os.getpid()}",
        data={"probe_event": event.pk},
    )


def register_probe() -> None:
    from incidents.consumers import register

    register(PROBE, kinds={"declared"}, handler=probe)


class ConsumerPluginConfig(AppConfig):
    name = "tests.consumer_plugin"
    label = "consumer_plugin"

    def ready(self):
        register_probe()
