"""The page lifecycle, without the database: a page's plan, where it goes after a step, and what a wake-up did.

A page follows a *plan*: the steps of the team's default escalation policy (repeated ``repeat`` more times), or,
for a team without a policy or a page to one person, a single implicit step (the team's on-call, else its leads or
members; or that person) waiting ``ONCALL_DEFAULT_WAIT_MINUTES``. ``page.round`` / ``page.step`` name the step last
notified; after the last step of the last round the page is *exhausted*. A triggered page ends acknowledged,
exhausted or cancelled (its incident is no longer open) and never changes again.

Durations in minutes are multiplied by ``settings.ONCALL_MINUTE_SECONDS`` (60; the worker tests use 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings

from incidents.state import OPEN_STATUSES
from paging.models import EscalationStep, Page

# A wake-up may arrive a moment before its time (clocks, rounding): treat it as due within this margin.
DUE_MARGIN = timedelta(milliseconds=250)
# The incident statuses in which paging goes on (anything else cancels the incident's pages).
INCIDENT_OPEN = frozenset(s.value for s in OPEN_STATUSES)
FINAL = frozenset({Page.Status.ACKNOWLEDGED, Page.Status.EXHAUSTED, Page.Status.CANCELLED})
#: A page in one of these states means someone is on it: the team is not paged again automatically, and the
#: incident is not "unpaged".
ACTIVE = frozenset({Page.Status.TRIGGERED, Page.Status.ACKNOWLEDGED})


def severe_enough(rank: int, threshold: int | None) -> bool:
    """Whether a severity of ``rank`` pages at a threshold severity of rank ``threshold`` (rank 1 is the most
    severe; ``None``: nothing pages). The one rule of the automatic page and of the "nobody paged" warning."""
    return threshold is not None and rank <= threshold


class WakeOutcome(StrEnum):
    """What a wake-up (``paging.services.page_step_run``) did."""

    NOTIFIED = "notified"  # the next step was notified
    EXHAUSTED = "exhausted"  # no step left: nobody acknowledged
    CANCELLED = "cancelled"  # the incident is no longer open
    STALE = "stale"  # the token is not the page's (an older wake-up), or the step was notified already
    NOT_DUE = "not_due"  # early: re-queued for the remaining time
    FINISHED = "finished"  # the page was acknowledged, exhausted or cancelled before
    MISSING = "missing"  # no such page


def minutes(n: int | float) -> timedelta:
    return timedelta(seconds=float(n) * settings.ONCALL_MINUTE_SECONDS)


@dataclass(frozen=True)
class PlanStep:
    """One step of a page's plan: whom it notifies and how long it waits for an acknowledgement."""

    target: str
    wait_minutes: int
    schedule: Any = None
    user: Any = None
    team: Any = None

    def describe(self) -> str:
        if self.target == EscalationStep.Target.SCHEDULE and self.schedule is not None:
            return f"the on-call of {self.schedule.name}"
        if self.target == EscalationStep.Target.USER and self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        if self.team is not None:
            return f"the {self.team.name} team"
        return "nobody"


def next_position(*, round: int, step: int, steps: int, repeat: int) -> tuple[int, int] | None:
    """The (round, step) after ``round`` / ``step`` in a plan of ``steps`` steps repeated ``repeat`` more times, or
    None when the plan is used up (the page is exhausted)."""
    next_step, next_round = step + 1, round
    if next_step >= steps:
        next_step, next_round = 0, round + 1
    if next_round > repeat:
        return None
    return next_round, next_step


def is_due(next_escalation_at: datetime, now: datetime) -> bool:
    return next_escalation_at <= now + DUE_MARGIN


def step_label(*, round: int, step: int, steps: int) -> str:
    """``step 2 of 3`` (``, round 2`` after the first round), as the messages and the timeline say it."""
    return f"step {step + 1} of {steps}" + (f", round {round + 1}" if round else "")
