"""The prefilled wording of public updates: the process's sentences, filled in, in UTC, overridable.

Plain functions: no database, and the statuspage app need not be installed.
"""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import override_settings

from statuspage import wording
from statuspage.wording import TemplateConfigError, join_names, prefill

NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
LATER_TODAY = datetime(2026, 12, 8, 14, 30, tzinfo=UTC)
SUPPORT = "support@example.com"


def test_the_statuses_are_the_public_update_statuses_in_order():
    assert wording.STATUSES == ("investigating", "identified", "monitoring", "resolved", "postmortem")
    assert wording.MAINTENANCE_STATUSES == ("scheduled", "in_progress", "verifying", "completed")
    assert set(wording.DEFAULT_TEMPLATES) == set(wording.ALL_STATUSES) == set(wording.STATUS_LABELS)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            "identified",
            "We are aware there is an issue with API and Dashboard. We are investigating a resolution. "
            "If you have any questions, email support@example.com.",
        ),
        (
            "investigating",
            "We are continuing to investigate a resolution to the issue with API and Dashboard. "
            "If you have any questions, email support@example.com.",
        ),
        (
            "monitoring",
            "A fix has been put in place for the issue with API and Dashboard and we are monitoring the "
            "results. If you have any questions, email support@example.com.",
        ),
        (
            "resolved",
            "We have resolved the issue with API and Dashboard and will conduct a postmortem to understand "
            "what happened and prevent it from happening again. If you have any questions, email "
            "support@example.com.",
        ),
        (
            "postmortem",
            "We have completed the postmortem of the issue with API and Dashboard. Below is what happened and "
            "what we are changing so that it does not happen again. If you have any questions, email "
            "support@example.com.",
        ),
        (
            "in_progress",
            "Scheduled maintenance on API and Dashboard is in progress. If you have any questions, email "
            "support@example.com.",
        ),
        (
            "verifying",
            "Maintenance on API and Dashboard has been carried out and we are verifying the results. If you "
            "have any questions, email support@example.com.",
        ),
        (
            "completed",
            "Scheduled maintenance on API and Dashboard has been completed. If you have any questions, email "
            "support@example.com.",
        ),
    ],
)
def test_each_status_prefills_the_process_wording(status, expected):
    assert prefill(status, components=["API", "Dashboard"], support_email=SUPPORT, now=NOW) == expected


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ""),
        (["API"], "API"),
        (["API", "Dashboard"], "API and Dashboard"),
        (["API", "Dashboard", "Webhooks"], "API, Dashboard, and Webhooks"),
        (["Search and Indexing", "API", "Login"], "Search and Indexing, API, and Login"),
        (["API", "  ", "api", "Dashboard", "API"], "API and Dashboard"),  # blanks and repeats dropped
        (["  Public   API "], "Public API"),  # inner whitespace collapsed
        ("Billing", "Billing"),  # a lone string is one name, not its letters
        (["Zahlungsverkehr", "Ödeme", "支払い"], "Zahlungsverkehr, Ödeme, and 支払い"),
    ],
)
def test_component_names_are_joined_naturally(names, expected):
    assert join_names(names) == expected


def test_without_components_or_support_address_the_sentence_still_reads():
    text = prefill("identified", now=NOW)
    assert (
        text == "We are aware there is an issue with some of our services. We are investigating a resolution."
    )
    assert "email" not in text
    assert "  " not in text


@pytest.mark.parametrize(
    ("next_update_at", "expected"),
    [
        (LATER_TODAY, "We will post another update by 14:30 UTC."),
        # Given in another offset, shown in UTC.
        (
            datetime(2026, 12, 8, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
            "We will post another update by 14:30 UTC.",
        ),
        # Not today in UTC: the date is part of it, ISO order, no month names tied to a language or region.
        (datetime(2026, 12, 9, 0, 15, tzinfo=UTC), "We will post another update by 2026-12-09 00:15 UTC."),
    ],
)
def test_the_next_update_time_is_in_utc(next_update_at, expected):
    text = prefill("investigating", components=["API"], next_update_at=next_update_at, now=NOW)
    assert text == f"We are continuing to investigate a resolution to the issue with API. {expected}"


def test_a_naive_next_update_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        prefill("identified", next_update_at=datetime(2026, 12, 8, 14, 30), now=NOW)


def test_the_next_update_sentence_comes_before_the_contact_sentence():
    text = prefill(
        "monitoring", components=["API"], support_email=SUPPORT, next_update_at=LATER_TODAY, now=NOW
    )
    assert text.endswith(
        "monitoring the results. We will post another update by 14:30 UTC. "
        "If you have any questions, email support@example.com."
    )


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "window"),
    [
        (
            datetime(2026, 12, 9, 2, 0, tzinfo=UTC),
            datetime(2026, 12, 9, 4, 0, tzinfo=UTC),
            " from 2026-12-09 02:00 UTC to 2026-12-09 04:00 UTC",
        ),
        (datetime(2026, 12, 9, 2, 0, tzinfo=UTC), None, " starting 2026-12-09 02:00 UTC"),
        (None, datetime(2026, 12, 9, 4, 0, tzinfo=UTC), " until 2026-12-09 04:00 UTC"),
        (None, None, ""),
    ],
)
def test_scheduled_maintenance_states_its_window_in_utc(starts_at, ends_at, window):
    text = prefill("scheduled", components=["Database"], starts_at=starts_at, ends_at=ends_at, now=NOW)
    assert text == f"We will be performing scheduled maintenance on Database{window}."


def test_a_naive_maintenance_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        prefill("scheduled", starts_at=datetime(2026, 12, 9, 2, 0), now=NOW)


# Words that would tie the wording to a place or a local clock.
REGIONAL = re.compile(
    r"\b(?:[ECMP][SD]T|BST|CET|CEST|IST|JST|AEST|GMT[+-]?\d*|local time|your time|a\.m\.|p\.m\.|AM|PM|"
    r"morning|evening|tonight|US|EU|Europe|America|Asia|Pacific|Eastern)\b"
)


@pytest.mark.parametrize("status", wording.ALL_STATUSES)
def test_no_wording_is_tied_to_a_region_or_time_zone(status):
    text = prefill(
        status,
        components=["API"],
        support_email=SUPPORT,
        next_update_at=LATER_TODAY,
        starts_at=LATER_TODAY,
        ends_at=LATER_TODAY + timedelta(hours=2),
        now=NOW,
    )
    assert not REGIONAL.search(text), text
    for clock in re.findall(r"\d\d:\d\d(?: [A-Z]+)?", text):
        assert clock.endswith(" UTC"), text


def test_component_names_are_inserted_literally_even_with_braces():
    text = prefill("identified", components=["{support_email}", "Cache {0}"], support_email=SUPPORT, now=NOW)
    assert text.startswith("We are aware there is an issue with {support_email} and Cache {0}.")


def test_an_unknown_status_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown status 'fixed'; expected one of: investigating"):
        prefill("fixed")


@override_settings(
    STATUSPAGE_TEMPLATES={
        "identified": "Wir untersuchen ein Problem mit {components}. Fragen an {support_email}.",
        "resolved": "Resolved: {components}.\n\n{contact}",
    }
)
def test_the_setting_replaces_the_wording_for_its_statuses_only():
    assert (
        prefill("identified", components=["API"], support_email=SUPPORT, now=NOW)
        == "Wir untersuchen ein Problem mit API. Fragen an support@example.com."
    )
    # Line breaks in an override are kept; an absent optional sentence leaves no trailing space.
    assert prefill("resolved", components=["API"], now=NOW) == "Resolved: API."
    assert (
        prefill("resolved", components=["API"], support_email=SUPPORT, now=NOW)
        == "Resolved: API.\n\nIf you have any questions, email support@example.com."
    )
    # The others keep the built-in wording.
    assert prefill("monitoring", components=["API"], now=NOW).startswith("A fix has been put in place")
    assert wording.templates()["investigating"] == wording.DEFAULT_TEMPLATES["investigating"]


@override_settings(
    STATUSPAGE_TEMPLATES={"identified": "Issue with {components}; next update {next_update_at}."}
)
def test_fallbacks_fill_raw_placeholders_when_a_value_is_missing():
    assert prefill("identified", now=NOW) == "Issue with some of our services; next update soon."


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        (
            {"identified": "Issue with {compnents}."},
            r"STATUSPAGE_TEMPLATES\['identified'\] uses unknown placeholder \{compnents\}; known: \{components\}",
        ),
        ({"identified": "Issue with {}."}, r"positional placeholder \{\}"),
        ({"identified": "Issue with {0}."}, r"positional placeholder \{0\}"),
        (
            {"identified": "Issue with {components.__class__}."},
            r"unknown placeholder \{components.__class__\}",
        ),
        ({"identified": "Issue with {components[0]}."}, r"unknown placeholder \{components\[0\]\}"),
        ({"identified": "Issue with {components!r}."}, r"conversion or format spec on \{components\}"),
        ({"identified": "Issue with {components:>40}."}, r"conversion or format spec on \{components\}"),
        ({"identified": "Issue with {components."}, r"is not a valid template .*\{\{ or \}\}"),
        ({"identified": "Issue with components}."}, r"is not a valid template"),
        ({"identified": "   "}, r"STATUSPAGE_TEMPLATES\['identified'\] is empty"),
        ({"identified": ["not", "a", "string"]}, r"must be a string, not list"),
        ({"fixed": "Fixed."}, r"unknown status 'fixed'; the statuses are: investigating"),
    ],
)
def test_a_bad_template_setting_is_a_clear_configuration_error(templates, message):
    with override_settings(STATUSPAGE_TEMPLATES=templates), pytest.raises(TemplateConfigError, match=message):
        prefill("identified", components=["API"], now=NOW)


def test_the_setting_must_be_a_dict():
    with (
        override_settings(STATUSPAGE_TEMPLATES=["identified"]),
        pytest.raises(TemplateConfigError, match="must be a dict of status to template, not list"),
    ):
        prefill("identified")


@override_settings(STATUSPAGE_TEMPLATES={"resolved": "Resolved {compnents}."})
def test_a_fault_in_one_status_does_not_block_the_others_but_validate_finds_it():
    # At 3 a.m. a typo in the Resolved wording must not stop the Identified update from being prefilled.
    assert prefill("identified", components=["API"], now=NOW).startswith("We are aware")
    with pytest.raises(TemplateConfigError, match=r"\['resolved'\] uses unknown placeholder \{compnents\}"):
        prefill("resolved", now=NOW)
    with pytest.raises(TemplateConfigError, match="compnents"):
        wording.validate_templates()


@override_settings(STATUSPAGE_TEMPLATES={"identified": "Literal {{braces}} and {components}."})
def test_escaped_braces_are_literal_and_validate_accepts_a_good_setting():
    wording.validate_templates()
    assert prefill("identified", components=["API"], now=NOW) == "Literal {braces} and API."


def test_a_template_error_is_a_django_configuration_error():
    from django.core.exceptions import ImproperlyConfigured

    assert issubclass(TemplateConfigError, ImproperlyConfigured)
