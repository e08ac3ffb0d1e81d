"""core.db.atomic: a write service's transaction is run again on a deadlock, and contention never answers 500."""

import pytest
from django.db import OperationalError, transaction
from django.test import RequestFactory
from psycopg import errors

from core import db
from core.middleware import ContentionMiddleware


def contention(kind=errors.DeadlockDetected) -> OperationalError:
    exc = OperationalError("deadlock detected")
    exc.__cause__ = kind("deadlock detected")
    return exc


class Flaky:
    """Fails with ``error`` the first ``failures`` times, then answers."""

    def __init__(self, failures: int, error=None):
        self.failures, self.calls, self.error = failures, 0, error

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error if self.error is not None else contention()
        return "done"


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(db.time, "sleep", lambda seconds: None)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", [errors.DeadlockDetected, errors.SerializationFailure])
def test_contention_runs_the_transaction_again(kind):
    flaky = Flaky(2, contention(kind))
    assert db.atomic(flaky)() == "done"
    assert flaky.calls == 3


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_with_busy_not_a_500():
    flaky = Flaky(10)
    with pytest.raises(db.Busy) as raised:
        db.atomic(flaky)()
    assert flaky.calls == db.RETRIES + 1
    assert raised.value.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried():
    flaky = Flaky(1, OperationalError("disk full"))
    with pytest.raises(OperationalError):
        db.atomic(flaky)()
    assert flaky.calls == 1


@pytest.mark.django_db(transaction=True)
def test_inside_another_transaction_the_owner_of_the_block_decides():
    flaky = Flaky(1)
    with pytest.raises(OperationalError), transaction.atomic():
        db.atomic(flaky)()
    assert flaky.calls == 1  # the outer block is aborted: running again inside it could not succeed


@pytest.mark.django_db(transaction=True)
def test_each_attempt_starts_from_a_clean_transaction():
    from django.contrib.auth.models import Group

    attempts = []

    def write():
        attempts.append(Group.objects.create(name=f"g{len(attempts)}"))
        if len(attempts) == 1:
            raise contention()
        return attempts[-1]

    db.atomic(write)()
    assert list(Group.objects.filter(name__in=["g0", "g1"]).values_list("name", flat=True)) == ["g1"]


@pytest.mark.parametrize(
    ("path", "accept", "content_type"),
    [("/api/v1/incidents/1/notes/", "", "application/json"), ("/incidents/1/", "text/html", "text/html")],
)
def test_contention_that_reaches_a_view_answers_409(path, accept, content_type, rf: RequestFactory):
    request = rf.post(path, HTTP_ACCEPT=accept)
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = ContentionMiddleware(lambda r: None).process_exception(request, contention())
    assert response.status_code == 409
    assert response["Content-Type"].startswith(content_type)


def test_other_errors_are_left_to_the_error_handler(rf):
    middleware = ContentionMiddleware(lambda r: None)
    assert middleware.process_exception(rf.get("/"), OperationalError("disk full")) is None
    assert middleware.process_exception(rf.get("/"), ValueError("x")) is None
