"""The move of escalation policies and pages from the on-call app: rows written under the old tables and names are
the paging app's after ``migrate``, and going back restores the old layout."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("paging", None), ("oncall", "0001_initial")]
AFTER = [("paging", "0001_initial")]
MOVED = ("escalationpolicy", "escalationstep", "page", "pagestep")


def _migrate(targets):
    """Migrate to ``targets``; the models as the applied migrations leave them."""
    MigrationExecutor(connection).migrate(targets)
    executor = MigrationExecutor(connection)  # a fresh one reads what is applied now
    return executor._create_project_state(with_applied_migrations=True).apps


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.mark.django_db(transaction=True)
def test_rows_of_the_old_tables_are_the_paging_apps_after_migrate_and_back():
    old = _migrate(BEFORE)
    try:
        assert {f"oncall_{m}" for m in MOVED} <= _tables()
        User = old.get_model("auth", "User")
        Team = old.get_model("teams", "Team")
        Incident = old.get_model("incidents", "Incident")
        TimelineEvent = old.get_model("incidents", "TimelineEvent")
        ConsumerRun = old.get_model("incidents", "ConsumerRun")
        ContentType = old.get_model("contenttypes", "ContentType")
        user = User.objects.create(username="olga")
        team = Team.objects.create(name="Payments", slug="payments")
        severity = old.get_model("incidents", "Severity").objects.order_by("rank").first()
        incident = Incident.objects.create(
            title="Checkout down", severity=severity, declared_by=user, team=team
        )
        event = TimelineEvent.objects.create(incident=incident, kind="declared")
        ConsumerRun.objects.create(event=event, consumer="oncall.auto_page", status="failed")
        ConsumerRun.objects.create(event=event, consumer="notifications.route")
        ContentType.objects.get_or_create(app_label="oncall", model="page")
        policy = old.get_model("oncall", "EscalationPolicy").objects.create(
            team=team, name="Default", is_default=True
        )
        old.get_model("oncall", "EscalationStep").objects.create(policy=policy, target="team", wait_minutes=5)
        page = old.get_model("oncall", "Page").objects.create(incident=incident, team=team, policy=policy)
        old.get_model("oncall", "PageStep").objects.create(page=page, round=0, step=0, notified=[user.pk])

        new = _migrate(AFTER)
        assert {f"paging_{m}" for m in MOVED} <= _tables()
        assert not {f"oncall_{m}" for m in MOVED} & _tables()
        moved = new.get_model("paging", "Page").objects.get(pk=page.pk)
        assert moved.incident_id == incident.pk and moved.policy_id == policy.pk
        assert list(moved.steps.values_list("notified", flat=True)) == [[user.pk]]
        assert new.get_model("paging", "EscalationPolicy").objects.get(pk=policy.pk).steps.count() == 1
        ContentType = new.get_model("contenttypes", "ContentType")
        assert ContentType.objects.filter(app_label="paging", model="page").exists()
        assert not ContentType.objects.filter(app_label="oncall", model="page").exists()
        runs = new.get_model("incidents", "ConsumerRun").objects.filter(event_id=event.pk)
        assert sorted(runs.values_list("consumer", flat=True)) == ["notifications.route", "paging.auto_page"]

        back = _migrate(BEFORE)
        assert {f"oncall_{m}" for m in MOVED} <= _tables()
        assert back.get_model("oncall", "Page").objects.filter(pk=page.pk, policy_id=policy.pk).exists()
        assert (
            back.get_model("incidents", "ConsumerRun").objects.filter(consumer="oncall.auto_page").count()
            == 1
        )
    finally:
        _migrate(_leaf_nodes())


def _leaf_nodes():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
