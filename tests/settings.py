"""The test suite's settings: the project's, plus the apps that exist only to test the house's extension points."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.wing"]  # noqa: F405
