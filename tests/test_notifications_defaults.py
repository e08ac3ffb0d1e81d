"""The shipped delivery periods keep the promise that a killed worker's message is delivered again within two
minutes (the worker tests shorten them for speed). Runs without PostgreSQL or Redis: it only reads settings."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_default_settings_redeliver_a_killed_workers_message_within_two_minutes():
    """The tests above shorten the periods; this checks the shipped defaults keep the 2-minute promise.

    A worker killed while delivering leaves its row ``sending`` with ``lease_until = claim + NOTIFY_LEASE_SECONDS``.
    Beat runs ``sweep_messages`` every ``NOTIFY_SWEEP_SECONDS``; the first sweep after the lease ran out re-queues
    the row and an idle worker claims it. So the row is delivered again at most LEASE + SWEEP after the claim.
    Independently, the killed task itself (``acks_late``) comes back from Redis after the visibility timeout, not
    Redis' default hour; it re-claims the row only once the lease is over, so the timeout must outlast the lease
    and both must stay under two minutes. A message queued but never picked up (the broker lost the task) is
    re-queued after NOTIFY_GRACE_SECONDS + NOTIFY_SWEEP_SECONDS, and a routing consumer run a killed worker left
    behind after TIMELINE_CONSUMER_GRACE_SECONDS + CONSUMER_SWEEP_SECONDS, before its messages even exist.

    The defaults are read from a fresh process whose environment sets none of these, as on a fresh install.
    """
    names = [
        "NOTIFY_LEASE_SECONDS",
        "NOTIFY_SWEEP_SECONDS",
        "NOTIFY_GRACE_SECONDS",
        "TIMELINE_CONSUMER_GRACE_SECONDS",
    ]
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"v = {{n: getattr(s, n) for n in {names!r}}}; "
        "v['VISIBILITY'] = s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']; "
        "v['CONSUMER_SWEEP'] = s.CELERY_BEAT_SCHEDULE['sweep-timeline-consumers']['schedule'].total_seconds(); "
        "v['MESSAGE_SWEEP'] = s.CELERY_BEAT_SCHEDULE['sweep-messages']['schedule'].total_seconds(); "
        "print(json.dumps(v))"
    )
    overridden = set(names) | {"CELERY_VISIBILITY_TIMEOUT", "CONSUMER_SWEEP_SECONDS"}
    env = {k: v for k, v in os.environ.items() if k not in overridden}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["MESSAGE_SWEEP"] == d["NOTIFY_SWEEP_SECONDS"]
    # A killed delivery: the sweeper path and the broker's own redelivery each come within two minutes.
    assert d["NOTIFY_LEASE_SECONDS"] + d["NOTIFY_SWEEP_SECONDS"] < 120
    assert d["NOTIFY_LEASE_SECONDS"] < d["VISIBILITY"] < 120
    # A lost task (pending, never claimed) and a killed routing run: also well within two minutes.
    assert d["NOTIFY_GRACE_SECONDS"] + d["NOTIFY_SWEEP_SECONDS"] < 120
    routed = d["TIMELINE_CONSUMER_GRACE_SECONDS"] + d["CONSUMER_SWEEP"]
    assert routed + d["NOTIFY_LEASE_SECONDS"] + d["NOTIFY_SWEEP_SECONDS"] < 240  # two kills in a row
    assert routed < 120
