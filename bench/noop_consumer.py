"""A timeline consumer that does nothing, for ``bench/declare.py --noop-consumer``.

Installed through ``MUSTER_PLUGINS=bench.noop_consumer.NoopConsumerConfig``. With it, every declare also writes a
``ConsumerRun`` row and, after commit, publishes ``dispatch_timeline_event`` to Celery (to Redis with
``--redis-url``; run in-process without it): the path every declare takes once the wings (notifications,
on-call, playbooks) register their consumers.
"""

from django.apps import AppConfig

NAME = "bench.noop"


def noop(event) -> None:
    return None


class NoopConsumerConfig(AppConfig):
    name = "bench.noop_consumer"
    label = "bench_noop_consumer"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from incidents.consumers import register

        register(NAME, kinds={"declared"}, handler=noop)
