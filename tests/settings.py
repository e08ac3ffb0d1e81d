"""The test suite's settings: the project's, plus the apps that exist only to test the house's extension points."""

import os
import tempfile

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.wing"]  # noqa: F405

# The tests' peers (tests/peers.py) listen on loopback: allow it explicitly, and nothing else.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]

# The shared cache (login throttle) of a test run: files in a directory of its own, which a worker or another
# process started by the tests inherits through the environment. Never Redis: clearing it between tests must not
# touch the broker's database.
os.environ.setdefault("SHARED_CACHE_DIR", tempfile.mkdtemp(prefix="muster-test-cache-"))
CACHES = {
    **CACHES,  # noqa: F405
    "shared": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ["SHARED_CACHE_DIR"],
    },
}
