"""Run the periodic tasks in this process, for installations without Celery beat (``make run`` without Redis).

Each entry of ``CELERY_BEAT_SCHEDULE`` runs at its interval, in-process: the sweepers, the reminders and the
escalation wake-ups keep working in the demo. Production runs ``celery beat`` instead.
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the Celery beat schedule in-process (no broker needed). Stops with Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every periodic task once and exit.")

    def handle(self, *args, once: bool = False, **options):
        entries = []
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            schedule = entry["schedule"]
            seconds = schedule.total_seconds() if hasattr(schedule, "total_seconds") else float(schedule)
            entries.append([name, entry["task"], seconds, 0.0])
        while True:
            now = time.monotonic()
            for entry in entries:
                name, task_name, seconds, due = entry
                if now < due:
                    continue
                entry[3] = now + seconds
                try:
                    import_string(task_name).apply()
                except Exception:
                    logger.exception("Periodic task %s failed", name)
            if once:
                return
            time.sleep(1)
