"""The transition table, pair by pair: every allowed move and every refused one."""

import itertools

import pytest

from incidents import state
from incidents.state import Status

ALL = [s.value for s in Status]

# Written out by hand from the process, independently of state.TRANSITIONS.
EXPECTED_ALLOWED = {
    ("triage", "investigating"),
    ("triage", "identified"),
    ("triage", "monitoring"),
    ("triage", "resolved"),
    ("triage", "declined"),
    ("investigating", "identified"),
    ("investigating", "monitoring"),
    ("investigating", "resolved"),
    ("investigating", "declined"),
    ("identified", "investigating"),
    ("identified", "monitoring"),
    ("identified", "resolved"),
    ("monitoring", "investigating"),
    ("monitoring", "identified"),
    ("monitoring", "resolved"),
    ("resolved", "investigating"),
    ("resolved", "closed"),
}

PAIRS = list(itertools.product(ALL, ALL))


def test_table_covers_every_status():
    assert set(state.TRANSITIONS) == set(Status)
    assert set(state.ORDER) == set(Status)
    assert set(state.ACTION_LABELS) == set(Status)


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_pair(current, target):
    expected = (current, target) in EXPECTED_ALLOWED
    assert state.can_transition(current, target) is expected
    if expected:
        assert state.check(current, target) == Status(target)
    else:
        with pytest.raises(state.TransitionError) as info:
            state.check(current, target)
        assert current in str(info.value) and target in str(info.value)


def test_declined_only_from_triage_and_investigating():
    sources = {a for a, b in EXPECTED_ALLOWED if b == "declined"}
    assert sources == {"triage", "investigating"}
    assert {s for s in ALL if state.can_transition(s, "declined")} == sources


def test_final_statuses_go_nowhere():
    for final in ("closed", "declined"):
        assert state.allowed_targets(final) == []
        with pytest.raises(state.TransitionError, match="final"):
            state.check(final, "investigating")


def test_same_status_is_refused_with_a_clear_message():
    with pytest.raises(state.TransitionError, match="already investigating"):
        state.check("investigating", "investigating")


def test_unknown_status_is_refused():
    with pytest.raises(state.TransitionError, match="Unknown status 'fixed'"):
        state.check("triage", "fixed")
    assert state.can_transition("triage", "fixed") is False
    assert state.can_transition("bogus", "triage") is False


def test_reopen_is_only_from_resolved():
    assert state.is_reopen("resolved", "investigating")
    assert not state.is_reopen("monitoring", "investigating")
    assert not state.is_reopen("resolved", "closed")


def test_allowed_targets_follow_lifecycle_order():
    assert state.allowed_targets("triage") == [
        Status.INVESTIGATING,
        Status.IDENTIFIED,
        Status.MONITORING,
        Status.RESOLVED,
        Status.DECLINED,
    ]
    assert state.allowed_targets("resolved") == [Status.INVESTIGATING, Status.CLOSED]


def test_refusal_names_the_way_forward():
    with pytest.raises(state.TransitionError) as info:
        state.check("triage", "closed")
    assert "investigating" in str(info.value)
