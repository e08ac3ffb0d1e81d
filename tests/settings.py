"""The test suite's settings: the project's, plus the apps that exist only to test the house's extension points."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.wing"]  # noqa: F405

# The tests' peers (tests/peers.py) listen on loopback: allow it explicitly, and nothing else.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
