"""Celery tasks of the outbox: thin, take ids, safe to run twice (a claim decides who delivers)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from notifications import selectors, services


@shared_task(acks_late=True, ignore_result=True)
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    return services.messages_deliver(message_ids=message_ids)


@shared_task(acks_late=True, ignore_result=True)
def dispatch_event_messages(event_id: int) -> int:
    """Queue delivery of the pending messages one timeline event caused, in batches."""
    ids = selectors.message_ids_pending_for_event(event_id=event_id)
    for chunk in services.chunked(ids, settings.NOTIFY_BATCH_SIZE):
        deliver_messages.delay(chunk)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def sweep_messages(limit: int = 5000) -> int:
    """Re-queue what a lost broker message, a killed worker or a long retry left behind."""
    ids = selectors.message_ids_overdue(grace=timedelta(seconds=settings.NOTIFY_GRACE_SECONDS), limit=limit)
    for chunk in services.chunked(ids, settings.NOTIFY_BATCH_SIZE):
        deliver_messages.delay(chunk)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def check_reminders() -> int:
    """Beat: send the due nudges (update cadence, no lead, not closed). Each is keyed, so overlapping runs send one."""
    from notifications.reminders import reminders_check

    return reminders_check()
