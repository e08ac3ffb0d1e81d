"""The incident lifecycle as a pure transition table: no database, no Django models.

    triage -> investigating -> identified -> monitoring -> resolved -> closed

Responders may skip ahead (a fix found during triage goes straight to *identified*, a quick rollback to
*monitoring* or *resolved*) and may step back while the incident is open (the fix did not hold:
*monitoring -> investigating*). *declined* marks a false positive: it is kept and visible, reachable from
*triage* and *investigating* only. A resolved incident can be re-opened (back to *investigating*) until it is
closed. *closed* and *declined* are final.
"""

from enum import StrEnum


class Status(StrEnum):
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return self.value.capitalize()


S = Status

TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.TRIAGE: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.MONITORING, S.RESOLVED, S.DECLINED}),
    S.INVESTIGATING: frozenset({S.IDENTIFIED, S.MONITORING, S.RESOLVED, S.DECLINED}),
    S.IDENTIFIED: frozenset({S.INVESTIGATING, S.MONITORING, S.RESOLVED}),
    S.MONITORING: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.INVESTIGATING, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.DECLINED: frozenset(),
}

#: Statuses in which the incident is still being worked on.
OPEN_STATUSES: frozenset[Status] = frozenset({S.TRIAGE, S.INVESTIGATING, S.IDENTIFIED, S.MONITORING})
#: Statuses that end the incident for good.
FINAL_STATUSES: frozenset[Status] = frozenset({S.CLOSED, S.DECLINED})
#: The order the lifecycle is shown in.
ORDER: tuple[Status, ...] = (
    S.TRIAGE,
    S.INVESTIGATING,
    S.IDENTIFIED,
    S.MONITORING,
    S.RESOLVED,
    S.CLOSED,
    S.DECLINED,
)

#: The verb shown on the button that moves an incident into each status.
ACTION_LABELS: dict[Status, str] = {
    S.TRIAGE: "Back to triage",
    S.INVESTIGATING: "Investigate",
    S.IDENTIFIED: "Cause identified",
    S.MONITORING: "Fix deployed: monitor",
    S.RESOLVED: "Resolve",
    S.CLOSED: "Close",
    S.DECLINED: "Decline (false positive)",
}


class TransitionError(ValueError):
    """Raised by :func:`check` for a move the table does not allow."""

    def __init__(self, current: str, target: str, message: str):
        self.current = current
        self.target = target
        super().__init__(message)


def parse(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ORDER)
        raise TransitionError("", value, f"Unknown status '{value}'. Statuses are: {allowed}.") from None


def allowed_targets(current: str) -> list[Status]:
    """The statuses reachable from ``current``, in lifecycle order."""
    targets = TRANSITIONS[Status(current)]
    return [s for s in ORDER if s in targets]


def can_transition(current: str, target: str) -> bool:
    try:
        return Status(target) in TRANSITIONS[Status(current)]
    except ValueError:
        return False


def check(current: str, target: str) -> Status:
    """Return the target status, or raise :class:`TransitionError` explaining why the move is refused."""
    cur = parse(current)
    tgt = parse(target)
    if tgt in TRANSITIONS[cur]:
        return tgt
    if cur == tgt:
        raise TransitionError(cur, tgt, f"The incident is already {cur.value}.")
    if cur in FINAL_STATUSES:
        raise TransitionError(cur, tgt, f"A {cur.value} incident is final and cannot move to {tgt.value}.")
    allowed = ", ".join(s.value for s in allowed_targets(cur)) or "nothing"
    raise TransitionError(
        cur,
        tgt,
        f"Cannot move from {cur.value} to {tgt.value}; from {cur.value} the incident can move to: {allowed}.",
    )


def roles_editable(current: str) -> bool:
    """Roles can be handed over and relieved until the incident is closed or declined: then they are history."""
    return Status(current) not in FINAL_STATUSES


def is_reopen(current: str, target: str) -> bool:
    return Status(current) == S.RESOLVED and Status(target) in OPEN_STATUSES
