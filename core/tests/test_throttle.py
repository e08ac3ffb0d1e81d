"""One login throttle for every login path, counted in the shared cache (core.throttle)."""

import os
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


# allauth's own per-address limit on the sign-in page ("login": 30 a minute) lives in the default cache, which is
# Redis when REDIS_URL is set and outlives a test: each test signs in from addresses of its own.
ADDRESSES = {"default": "10.9.8.7"}


@pytest.fixture(autouse=True)
def _addresses_of_this_test():
    import random

    a, b = random.randrange(1, 250), random.randrange(1, 250)
    ADDRESSES.update(default=f"10.{a}.{b}.7", first=f"10.{a}.{b}.1", second=f"10.{a}.{b}.2")


def admin_login(client, username, password, address=None):
    address = address or ADDRESSES["default"]
    return client.post(
        ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def site_login(client, login, password, address=None):
    address = address or ADDRESSES["default"]
    return client.post(reverse("account_login"), {"login": login, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def staff(db):
    user = UserFactory(username="carol", is_staff=True)
    user.set_password("right-password")
    user.save()
    return user


@pytest.mark.parametrize("path", ["admin", "site"])
def test_after_the_limit_even_the_right_password_is_refused_with_a_clear_message(
    client, settings, staff, path
):
    settings.LOGIN_THROTTLE_PER_ACCOUNT = 3
    login = admin_login if path == "admin" else site_login
    for _ in range(3):
        assert login(client, "carol", "wrong").status_code == 200
    answer = login(client, "carol", "right-password")
    assert answer.status_code == 200
    assert "Too many failed sign-ins" in answer.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_on_one_path_count_on_every_other(client, settings, staff):
    settings.LOGIN_THROTTLE_PER_ACCOUNT = 3
    for _ in range(3):
        admin_login(client, "carol", "wrong")
    answer = site_login(client, "carol", "right-password")
    assert "Too many failed sign-ins" in answer.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_clears_the_account_count(client, settings, staff):
    settings.LOGIN_THROTTLE_PER_ACCOUNT = 3
    for _ in range(2):
        admin_login(client, "carol", "wrong")
    assert admin_login(client, "carol", "right-password").status_code == 302
    client.logout()
    for _ in range(2):
        admin_login(client, "carol", "wrong")
    assert admin_login(client, "carol", "right-password").status_code == 302


def test_one_address_trying_many_accounts_is_stopped(client, settings, staff):
    settings.LOGIN_THROTTLE_PER_ADDRESS = 4
    for name in ("a", "b", "c", "d"):
        admin_login(client, name, "guess", address=ADDRESSES["first"])
    answer = admin_login(client, "carol", "right-password", address=ADDRESSES["first"])
    assert "Too many failed sign-ins" in answer.content.decode()
    # Another address may still sign in to the account.
    assert admin_login(client, "carol", "right-password", address=ADDRESSES["second"]).status_code == 302


def test_the_count_is_shared_by_every_process(client, settings, staff):
    """A failure counted here blocks a check made by another process (another gunicorn worker)."""
    settings.LOGIN_THROTTLE_PER_ACCOUNT = 2
    for _ in range(2):
        admin_login(client, "carol", "wrong")
    code = (
        "import django; django.setup();"
        "from core import throttle;"
        "print('blocked' if throttle.blocked(None, 'carol') else 'free')"
    )
    env = os.environ | {"LOGIN_THROTTLE_PER_ACCOUNT": "2", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "blocked", out.stderr
