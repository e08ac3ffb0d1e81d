from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from notifications import services
from notifications.models import Message


@pytest.mark.django_db
def test_tick_runs_the_beat_schedule_in_process(webhook_peer):
    """Without Celery beat (make run on SQLite), `manage.py tick` runs the sweepers: a lost message is delivered."""
    with transaction.atomic():
        message = services.message_enqueue(
            services.Draft(
                channel="webhook", kind="webhook", target=webhook_peer.url + "t", dedupe_key="tick"
            )
        )
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    call_command("tick", once=True)
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert len(webhook_peer.delivered()) == 1
