"""A retried declare never makes a second incident: the service's idempotency key and the API's header."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.errors import Conflict, PermissionDenied, Unprocessable, ValidationError
from incidents import services
from incidents.models import IdempotencyKey, Incident, Source, TimelineEvent
from tests.factories import UserFactory

URL = "/api/v1/incidents/"
BODY = {"title": "Checkout is down", "severity": "critical"}


def declared_events() -> int:
    return TimelineEvent.objects.filter(kind="declared").count()


def declare_once(key="k-1", body_hash="h", scope="integration:alertmanager", **extra):
    return services.incident_declare_once(
        idempotency_key=key,
        request_hash=body_hash,
        scope=scope,
        source=Source.ALERT,
        title=extra.pop("title", "Disk full"),
        severity=extra.pop("severity", "major"),
        actor=None,
        via="Alertmanager",
        **extra,
    )


@pytest.mark.django_db
def test_the_same_key_returns_the_first_incident():
    first, created = declare_once()
    again, created_again = declare_once()
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Incident.objects.count() == 1 and declared_events() == 1


@pytest.mark.django_db
def test_another_body_with_the_same_key_is_refused():
    declare_once(body_hash="a")
    with pytest.raises(Unprocessable):
        declare_once(body_hash="b")
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_caller_and_per_source():
    a, _ = declare_once(scope="user:1")
    b, _ = declare_once(scope="user:2")
    assert a.pk != b.pk


@pytest.mark.django_db
def test_an_expired_key_declares_anew(settings):
    first, _ = declare_once()
    IdempotencyKey.objects.update(
        created_at=timezone.now() - settings.INCIDENT_IDEMPOTENCY_WINDOW - timedelta(1)
    )
    second, created = declare_once()
    assert created and second.pk != first.pk
    assert services.idempotency_keys_expire() == 0  # the expired row was replaced, the new one is fresh


@pytest.mark.django_db
def test_a_key_still_in_progress_is_a_conflict_and_an_abandoned_one_is_reused(settings):
    IdempotencyKey.objects.create(
        source=Source.ALERT, scope="integration:alertmanager", key="k-1", request_hash="h"
    )  # committed by a request that is still declaring
    with pytest.raises(Conflict) as raised:
        declare_once()
    assert raised.value.code == "idempotency_in_progress"
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=120))  # its process died
    _incident, created = declare_once()
    assert created and Incident.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_declaration_releases_its_key():
    with pytest.raises(ValidationError):
        declare_once(severity="no-such-severity")
    assert not IdempotencyKey.objects.exists()
    _incident, created = declare_once()
    assert created


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 256, "caf\u00e9", "nul\x00"])
def test_a_malformed_key_is_refused(key):
    with pytest.raises(ValidationError):
        declare_once(key=key)


@pytest.mark.django_db
def test_an_integration_declares_with_no_person_and_shows_as_via_its_name(client, member):
    incident, _ = declare_once()
    event = incident.events.get(kind="declared")
    assert (event.actor_id, event.via, event.source, incident.declared_by_id) == (
        None,
        "Alertmanager",
        "alert",
        None,
    )
    client.force_login(member)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert '<strong class="feed-actor">Alertmanager</strong>' in html
    assert 'data-testid="via">via Alertmanager</span>' in html


@pytest.mark.django_db
def test_without_a_person_or_an_integration_nobody_may_declare():
    with pytest.raises(PermissionDenied):
        services.incident_declare(title="x", severity="major", actor=None)


# --- The API header ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_replays_the_first_answer(member_api):
    first = member_api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = member_api.post(URL, {"severity": "critical", "title": "Checkout is down"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="abc-1")  # fmt: skip
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Incident.objects.count() == 1 and declared_events() == 1


@pytest.mark.django_db
def test_the_api_answers_422_for_another_body_and_400_for_a_bad_key(member_api):
    assert member_api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="abc-2").status_code == 201
    other = member_api.post(URL, {**BODY, "title": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-2")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    bad = member_api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="has space")
    assert bad.status_code == 400
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_the_api_answers_409_while_the_first_is_in_progress(member_api, member):
    IdempotencyKey.objects.create(source=Source.API, scope=f"user:{member.pk}", key="abc-3", request_hash="x")
    answer = member_api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="abc-3")
    assert answer.status_code == 409 and answer.json()["code"] == "idempotency_in_progress"
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_a_key_never_returns_another_callers_private_incident(member_api, team):
    from conftest import token_client

    other = token_client(UserFactory())
    mine = member_api.post(URL, {**BODY, "private": True}, format="json", HTTP_IDEMPOTENCY_KEY="shared-key")
    theirs = other.post(URL, {**BODY, "private": True}, format="json", HTTP_IDEMPOTENCY_KEY="shared-key")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert Incident.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
def test_concurrent_repeats_make_one_incident(member):
    """Eight requests with one key at the same moment: one incident, one declared event; the others replay or
    are told the first is in progress."""
    from conftest import token_client

    barrier = threading.Barrier(8)
    answers: list[int] = []
    lock = threading.Lock()

    def send():
        try:
            client = token_client(member)
            barrier.wait(5)
            code = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="race-1").status_code
            with lock:
                answers.append(code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8 and set(answers) <= {201, 409} and 201 in answers
    assert Incident.objects.count() == 1
    assert declared_events() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
def test_concurrent_service_calls_make_one_incident():
    barrier = threading.Barrier(6)
    results: list[object] = []

    def call():
        try:
            barrier.wait(5)
            try:
                results.append(declare_once(key="svc-race")[1])
            except Conflict:
                results.append("in progress")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results.count(True) == 1 and len(results) == 6
    assert Incident.objects.count() == 1 and declared_events() == 1
