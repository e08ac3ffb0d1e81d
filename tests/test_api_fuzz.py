"""Property-based fuzzing of the REST API against its own OpenAPI schema (schemathesis, in-process WSGI).

Every operation of /api/schema/ gets generated requests, valid and invalid, sent as a team lead with seed
incidents. Each response must not be a 500, must use a documented status code and content type, and must match
the documented body. Run alone with ``pytest -m fuzz``; ``MUSTER_FUZZ_EXAMPLES=500`` for a deeper run
(40 examples per operation keeps the default run under a minute).

Generated slugs, usernames and ids would almost never name a real object, so a few fields are steered onto the
seed data (deterministically, from the generated value, so Hypothesis can still replay and shrink) while a third
of the values are kept as generated, to keep exercising the 400 and 404 paths.
"""

import os
import zlib

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from conftest import token_client
from incidents import services
from incidents.models import Source
from teams.models import Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.fuzz

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# What generated values get steered onto: the seed data below (the last slot of each keeps the generated value).
STEER = {
    "severity": ["critical", "major", "minor"],
    "team": ["payments", "platform"],
    "slug": ["payments", "platform"],
    "services": ["checkout", "ledger", "edge"],
    "user": ["fuzzer", "bob", "carol"],
    "lead": ["fuzzer", "bob"],
    "username": ["bob", "carol", "fuzzer"],
    "role": ["lead", "messenger", "resolution-owner"],
    "role_slug": ["lead", "messenger", "resolution-owner"],
}


def _pick(value, choices: list):
    """One of ``choices`` or ``value`` itself, chosen from the value's content (stable across runs)."""
    slot = zlib.crc32(repr(value).encode()) % (len(choices) + max(1, len(choices) // 2))
    return choices[slot] if slot < len(choices) else value


def _steer(case, incident_ids: list[int]) -> None:
    params = case.path_parameters or {}
    incident_id = params.get("id")
    if isinstance(incident_id, int) or (isinstance(incident_id, str) and incident_id.lstrip("-").isdigit()):
        params["id"] = _pick(incident_id, incident_ids)
    for name in ("slug", "username", "role_slug"):
        if isinstance(params.get(name), str):
            params[name] = _pick(params[name], STEER[name])
    body = case.body
    if isinstance(body, dict):
        for name, choices in STEER.items():
            value = body.get(name)
            if isinstance(value, str):
                body[name] = _pick(value, choices)
            elif name == "services" and isinstance(value, list):
                body[name] = [_pick(v, choices) if isinstance(v, str) else v for v in value]


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Requests made through WSGI run in this thread, inside the test's transaction: do not let Django close it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(db):
    """A team lead of payments with public and private incidents, another team, services and colleagues."""
    fuzzer = UserFactory(username="fuzzer")
    bob = UserFactory(username="bob")
    carol = UserFactory(username="carol")
    payments = TeamFactory(name="Payments", slug="payments")
    platform = TeamFactory(name="Platform", slug="platform")
    MembershipFactory(team=payments, user=fuzzer, role=Membership.Role.LEAD)
    MembershipFactory(team=payments, user=bob, role=Membership.Role.MEMBER)
    MembershipFactory(team=platform, user=carol, role=Membership.Role.ADMIN)
    ServiceFactory(name="Checkout", slug="checkout", team=payments)
    ServiceFactory(name="Ledger", slug="ledger", team=payments)
    ServiceFactory(name="Edge", slug="edge", team=platform)

    declare = services.incident_declare
    ids = [
        declare(
            title="Checkout errors", severity="critical", actor=fuzzer, team=payments, services=["checkout"]
        ).pk,
        declare(
            title="Slow ledger", severity="minor", actor=bob, team=payments, lead=bob, source=Source.API
        ).pk,
        declare(title="Card data exposure", severity="major", actor=bob, team=payments, private=True).pk,
        declare(title="Edge 502s", severity="major", actor=carol, team=platform, services=["edge"]).pk,
        declare(
            title="Platform secret leak", severity="critical", actor=carol, team=platform, private=True
        ).pk,
        declare(title="Who owns this?", severity="minor", actor=carol).pk,
    ]
    resolved = declare(title="Resolved one", severity="minor", actor=fuzzer, team=payments)
    services.incident_transition(incident=resolved, to="resolved", actor=fuzzer)
    services.incident_add_note(incident=resolved, text="Rolled back.", actor=fuzzer)
    ids.append(resolved.pk)

    client = token_client(fuzzer)
    return {"auth": client._credentials["HTTP_AUTHORIZATION"], "incident_ids": ids}


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("MUSTER_FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema(case, fuzz_world):
    _steer(case, fuzz_world["incident_ids"])
    case.call_and_validate(headers={"Authorization": fuzz_world["auth"]}, checks=CHECKS)
