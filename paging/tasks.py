"""Celery tasks of paging: thin, take ids, safe to run twice (the page's wake token decides who escalates)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from paging import selectors, services


@shared_task(acks_late=True, ignore_result=True)
def page_wake(page_id: int, token: str | None) -> str:
    """Notify the page's next step if ``token`` is still the page's and the step is due."""
    return str(services.page_step_run(page_id=page_id, token=token))


@shared_task(acks_late=True, ignore_result=True)
def sweep_pages(limit: int = 500) -> int:
    """Wake triggered pages whose escalation is overdue by the grace (a lost countdown, a killed worker, a Redis
    restart). Returns how many were woken."""
    due = selectors.pages_overdue(grace=timedelta(seconds=settings.ONCALL_SWEEP_GRACE_SECONDS), limit=limit)
    for page_id, token in due:
        page_wake.delay(page_id, str(token))
    return len(due)


# Wake-ups queued before paging had its own app carry the old task name; run them rather than drop them (the
# sweeper would wake those pages anyway, a grace later).
@shared_task(name="oncall.tasks.page_wake", acks_late=True, ignore_result=True)
def legacy_page_wake(page_id: int, token: str | None) -> str:
    return page_wake(page_id, token)
