"""Wake-ups racing for one page (a countdown, a redelivered message and the sweeper at once): one step, once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from incidents.models import TimelineEvent
from paging import services
from paging.models import Page, PageStep

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_simultaneous_wakeups_notify_the_step_once(incident, member, admin_user):
    steps = [{"target": "team", "wait_minutes": 5}] * 2
    services.escalation_policy_create(
        team=incident.team, name="Two", actor=admin_user, steps=steps, is_default=True
    )
    page = services.page_create(incident=incident, team=incident.team, actor=member)
    Page.objects.filter(pk=page.pk).update(next_escalation_at=timezone.now() - timedelta(seconds=1))
    token = str(Page.objects.get(pk=page.pk).wake_token)
    start = threading.Barrier(6)
    results: list[str] = []

    def wake():
        try:
            start.wait(5)
            results.append(services.page_step_run(page_id=page.pk, token=token))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wake) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == ["notified"] + ["stale"] * 5
    assert list(PageStep.objects.filter(page=page).values_list("round", "step")) == [(0, 0), (0, 1)]
    assert TimelineEvent.objects.filter(incident=incident, kind="paged").count() == 2
