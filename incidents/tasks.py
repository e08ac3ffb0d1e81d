"""Celery tasks: thin, take ids, safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from incidents import services
from incidents.models import ConsumerRun


@shared_task(acks_late=True, ignore_result=True)
def dispatch_timeline_event(event_id: int) -> dict[str, str]:
    """Run every pending consumer of one timeline event whose next attempt is due."""
    run_ids = list(
        ConsumerRun.objects.filter(
            event_id=event_id, status=ConsumerRun.Status.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("id", flat=True)
    )
    return {str(run_id): services.consumer_run_execute(run_id=run_id) for run_id in run_ids}


@shared_task(acks_late=True, ignore_result=True)
def sweep_timeline_consumers(limit: int = 500) -> int:
    """Re-dispatch events whose consumers are still pending past the grace period (lost message, killed worker)
    or whose retry is due. Returns how many events were dispatched."""
    now = timezone.now()
    grace = timedelta(seconds=settings.TIMELINE_CONSUMER_GRACE_SECONDS)
    event_ids = list(
        ConsumerRun.objects.filter(
            status=ConsumerRun.Status.PENDING, next_attempt_at__lte=now, created_at__lte=now - grace
        )
        .order_by("event_id")
        .values_list("event_id", flat=True)
        .distinct()[:limit]
    )
    # Retries of runs that already failed once are due at next_attempt_at, whatever their age.
    event_ids += list(
        ConsumerRun.objects.filter(
            status=ConsumerRun.Status.PENDING, attempts__gt=0, next_attempt_at__lte=now
        )
        .exclude(event_id__in=event_ids)
        .order_by("event_id")
        .values_list("event_id", flat=True)
        .distinct()[:limit]
    )
    for event_id in dict.fromkeys(event_ids):
        dispatch_timeline_event.delay(event_id)
    return len(set(event_ids))
