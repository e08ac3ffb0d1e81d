"""gunicorn settings, read automatically when gunicorn starts in the project folder.

    gunicorn config.wsgi            # binds $GUNICORN_BIND (0.0.0.0:8000), $WEB_CONCURRENCY workers x $GUNICORN_THREADS

Command-line flags override these.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None  # "-" for stdout
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Move everything loaded at start-up out of the garbage collector's sight and let it run less often.

    A page of 200 incidents leaves thousands of short-lived objects in reference cycles; with the default
    thresholds the collector's full passes took about a quarter of the page's CPU (bench/README.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(int(os.environ.get("GC_THRESHOLD0", "50000")), 20, 100)
