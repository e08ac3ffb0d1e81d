"""Celery tasks: thin, take ids, safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from incidents import selectors, services


@shared_task(acks_late=True, ignore_result=True)
def dispatch_timeline_event(event_id: int) -> dict[str, str]:
    """Run every pending consumer of one timeline event whose next attempt is due."""
    run_ids = selectors.consumer_run_ids_due(event_id=event_id)
    return {str(run_id): services.consumer_run_execute(run_id=run_id) for run_id in run_ids}


@shared_task(acks_late=True, ignore_result=True)
def sweep_timeline_consumers(limit: int = 500) -> int:
    """Re-dispatch events whose consumers are still pending past the grace period (lost message, killed worker)
    or whose retry is due. Returns how many events were dispatched."""
    event_ids = selectors.consumer_event_ids_due(
        grace=timedelta(seconds=settings.TIMELINE_CONSUMER_GRACE_SECONDS), limit=limit
    )
    for event_id in event_ids:
        dispatch_timeline_event.delay(event_id)
    return len(event_ids)


@shared_task(acks_late=True, ignore_result=True)
def expire_idempotency_keys() -> int:
    """Forget the idempotency keys older than the window (safe to run twice)."""
    return services.idempotency_keys_expire()
