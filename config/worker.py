"""The worker's consumer (``CELERY_WORKER_CONSUMER``): imported by workers only, never by the web process."""

import logging

from celery.worker.consumer import Consumer as CeleryConsumer

logger = logging.getLogger(__name__)


class Consumer(CeleryConsumer):
    """Celery's consumer, kept alive through a broker restart.

    With Celery and kombu 5.7 on Redis, losing the broker while the worker holds an unacknowledged message (a
    page's next step waiting for its ETA) runs ``connection.collect()``, which detaches the transport, then
    ``connection.close()``, which hands the held message back through that detached transport and raises
    ``AttributeError``. That is not a connection error, so the worker stopped for good instead of reconnecting.
    Nothing is lost by going on: Redis lost the message anyway, and every step a message carries is also a row in
    the database that the sweepers run when it falls due.
    """

    def on_connection_error_after_connected(self, exc):
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError:
            logger.warning("broker connection closed uncleanly after %r; reconnecting", exc, exc_info=True)
