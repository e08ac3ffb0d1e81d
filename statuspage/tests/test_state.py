"""The component status and page indicator, checked against tables written by hand (so the tests can fail)."""

from __future__ import annotations

import itertools

import pytest

from statuspage import state
from statuspage.models import ComponentStatus as C
from statuspage.models import PublicIncident, ScheduledMaintenance

OP, MAINT, DEG, PART, MAJOR = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)


@pytest.mark.parametrize(
    ("manual", "override", "incidents", "maintenance", "expected"),
    [
        (OP, False, [], False, OP),
        (DEG, False, [], False, DEG),  # set by hand, nothing open
        (OP, False, [PART], False, PART),  # derived from an open incident
        (OP, False, [DEG, MAJOR, PART], False, MAJOR),  # the worst incident wins
        (PART, False, [DEG], False, PART),  # a manual status worse than the incidents stays
        (OP, False, [], True, MAINT),  # maintenance in progress
        (OP, False, [DEG], True, DEG),  # an outage during maintenance is worse than the maintenance
        (OP, True, [MAJOR], True, OP),  # the human override wins over everything
        (DEG, True, [], False, DEG),
        (MAJOR, True, [DEG], False, MAJOR),
    ],
)
def test_component_status(manual, override, incidents, maintenance, expected):
    got = state.component_status(
        manual=manual, override=override, incident_statuses=incidents, in_maintenance=maintenance
    )
    assert got == expected


def test_worst_is_order_independent_and_total():
    order = [OP, MAINT, DEG, PART, MAJOR]
    assert set(order) == set(C.values)
    for a, b in itertools.product(order, repeat=2):
        expected = order[max(order.index(a), order.index(b))]
        assert state.worst_component_status([a, b]) == expected
        assert state.worst_component_status([b, a]) == expected
    assert state.worst_component_status([]) == OP


@pytest.mark.parametrize(
    ("components", "impacts", "indicator", "description"),
    [
        ([], [], "none", "All Systems Operational"),
        ([OP, OP], [], "none", "All Systems Operational"),
        ([OP, DEG], [], "minor", "Minor Service Outage"),
        ([OP, PART], [], "major", "Partial System Outage"),  # as the Statuspage fixture shows it
        ([MAJOR, DEG], [], "critical", "Major System Outage"),
        ([OP], ["minor"], "minor", "Minor Service Outage"),
        ([DEG], ["critical"], "critical", "Major System Outage"),  # an incident's impact can be the worst
        ([PART], ["minor"], "major", "Partial System Outage"),
        ([OP], ["none"], "none", "All Systems Operational"),
        ([MAINT, OP], [], "none", "Service Under Maintenance"),
        ([MAINT, DEG], [], "minor", "Minor Service Outage"),
    ],
)
def test_page_indicator(components, impacts, indicator, description):
    assert state.page_indicator(component_statuses=components, incident_impacts=impacts) == (
        indicator,
        description,
    )


S = PublicIncident.Status
# (from, to) pairs an update may make, by hand; every other pair is refused.
INCIDENT_ALLOWED = {
    *((a, b) for a in ("investigating", "identified", "monitoring") for b in
      ("investigating", "identified", "monitoring", "resolved")),
    *(("resolved", b) for b in ("investigating", "identified", "monitoring", "resolved", "postmortem")),
    ("postmortem", "postmortem"),
}  # fmt: skip


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S.values, repeat=2)))
def test_public_incident_transitions(current, new):
    assert state.incident_may_become(current, new) is ((current, new) in INCIDENT_ALLOWED)


M = ScheduledMaintenance.Status
MAINTENANCE_ALLOWED = {
    ("scheduled", "scheduled"), ("scheduled", "in_progress"), ("scheduled", "completed"),
    ("in_progress", "in_progress"), ("in_progress", "verifying"), ("in_progress", "completed"),
    ("verifying", "verifying"), ("verifying", "in_progress"), ("verifying", "completed"),
}  # fmt: skip


@pytest.mark.parametrize(("current", "new"), list(itertools.product(M.values, repeat=2)))
def test_maintenance_transitions(current, new):
    assert state.maintenance_may_become(current, new) is ((current, new) in MAINTENANCE_ALLOWED)
