"""Celery application. Workers: ``celery -A config worker``; beat: ``celery -A config beat``."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("muster")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_development_secrets(**kwargs):
    from config.settings import require_production_secrets

    require_production_secrets()
