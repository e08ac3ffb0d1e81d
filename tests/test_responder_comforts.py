"""Responder comforts: absolute UTC times on the timeline, the timeline as a page of its own, its Markdown and CSV
export (visibility, formula injection, Markdown injection) and the quick switcher's endpoints."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.templatetags.muster import absolute_utc, abstime
from incidents import services
from incidents.views import csv_cell, md_escape
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def outsider_client(client):
    client.force_login(UserFactory(username="olga"))
    return client


@pytest.fixture
def private_incident(member, team):
    return services.incident_declare(
        title="Leaked signing key", severity="critical", actor=member, team=team, private=True
    )


# --- Absolute times ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        # Today (UTC): the time only, to the second.
        (
            datetime(2026, 12, 7, 23, 41, 7, tzinfo=UTC),
            datetime(2026, 12, 7, 23, 44, tzinfo=UTC),
            "23:41:07 UTC",
        ),
        # Yesterday, and a year ago: the date too.
        (
            datetime(2026, 12, 6, 23, 41, 7, tzinfo=UTC),
            datetime(2026, 12, 7, 0, 5, tzinfo=UTC),
            "2026-12-06 23:41:07 UTC",
        ),
        (
            datetime(2025, 12, 7, 9, 0, 0, tzinfo=UTC),
            datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
            "2025-12-07 09:00:00 UTC",
        ),
        # Another time zone is shown in UTC, and "today" is the UTC day: 01:30 in Berlin is 00:30 UTC.
        (
            datetime(2026, 12, 8, 1, 30, 0, tzinfo=timezone.get_fixed_timezone(60)),
            datetime(2026, 12, 8, 0, 45, tzinfo=UTC),
            "00:30:00 UTC",
        ),
    ],
)
def test_absolute_utc_shows_the_date_when_not_today(value, now, expected):
    assert absolute_utc(value, now) == expected


def test_abstime_is_a_time_element_with_the_utc_time_and_the_relative_time_beside_it(monkeypatch):
    now = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)  # midday: three minutes ago is today whenever this runs
    monkeypatch.setattr(timezone, "now", lambda: now)
    value = now - timedelta(minutes=3)
    html = str(abstime(value))
    iso = value.astimezone(UTC).isoformat()
    assert f'<time class="abstime-utc" datetime="{iso}">{value.astimezone(UTC):%H:%M:%S} UTC</time>' in html
    assert f'<time class="reltime" datetime="{iso}"' in html
    assert ">3 min ago</time>" in html
    assert abstime(None) == ""


def test_the_timeline_shows_absolute_utc_times(member_client, incident):
    event = incident.events.get(kind="declared")
    html = member_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert f'datetime="{event.occurred_at.astimezone(UTC).isoformat()}"' in html
    assert f"{event.occurred_at.astimezone(UTC):%H:%M:%S} UTC</time>" in html  # with the date after midnight


# --- The timeline alone ----------------------------------------------------------------------------------------


def test_the_timeline_opened_directly_is_a_styled_page_with_the_title_and_the_way_back(
    member_client, incident
):
    services.incident_add_note(incident=incident, text="Rolled back the deploy", actor=incident.declared_by)
    response = member_client.get(reverse("incidents:timeline", args=[incident.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<!doctype html>")
    assert "css/muster.css" in html  # base.html's stylesheet
    assert "<title>Timeline · INC-" in html
    assert '<span data-testid="incident-title">Checkout is down</span>' in html
    assert f'href="{incident.get_absolute_url()}" data-testid="back-to-incident"' in html
    assert "Rolled back the deploy" in html
    assert reverse("incidents:timeline_markdown", args=[incident.pk]) in html
    assert reverse("incidents:timeline_csv", args=[incident.pk]) in html
    assert (
        'hx-trigger="every 15s"' not in html
    )  # a page of its own polls nothing into a page that is not there
    assert "no-store" in response["Cache-Control"]


def test_the_timeline_fetched_by_htmx_stays_the_fragment(member_client, incident):
    response = member_client.get(reverse("incidents:timeline", args=[incident.pk]), **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<!doctype html>" not in html.lower()
    assert "<title>" not in html
    assert html.lstrip().startswith('<div id="timeline"')
    assert "data-live-region" in html  # the incident page swaps it in when it changed (incidents.live)


def test_the_timeline_page_of_a_private_incident_is_a_404_to_an_outsider(outsider_client, private_incident):
    for extra in ({}, HX):
        response = outsider_client.get(reverse("incidents:timeline", args=[private_incident.pk]), **extra)
        assert response.status_code == 404
        assert "Leaked signing key" not in response.content.decode()


# --- Export ----------------------------------------------------------------------------------------------------


def export(client, incident, fmt):
    name = {"md": "incidents:timeline_markdown", "csv": "incidents:timeline_csv"}[fmt]
    return client.get(reverse(name, args=[incident.pk]))


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_csv_export_is_an_attachment_with_every_event_in_utc(member_client, incident, member):
    services.incident_add_note(incident=incident, text="Rolled back\nthe deploy", actor=member)
    services.incident_transition(incident=incident, to="investigating", actor=member)
    response = export(member_client, incident, "csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="incident-{incident.pk}-timeline.csv"'
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    assert [r["kind"] for r in rows] == [e.kind for e in incident.events.order_by("occurred_at", "id")]
    note = next(r for r in rows if r["kind"] == "note_added")
    assert note["text"] == "Rolled back\nthe deploy"
    assert note["actor"] == (member.get_full_name() or member.username)
    event = incident.events.get(kind="note_added")
    assert note["time_utc"] == event.occurred_at.astimezone(UTC).isoformat()
    assert note["time_utc"].endswith("+00:00")
    status = next(r for r in rows if r["kind"] == "status_changed")
    assert status["what"] == "changed the status Triage → Investigating"


def test_the_markdown_export_is_an_attachment_with_the_incident_and_its_timeline(
    member_client, incident, member
):
    services.incident_add_note(incident=incident, text="Rolled back the deploy", actor=member)
    response = export(member_client, incident, "md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="incident-{incident.pk}-timeline.md"'
    text = response.content.decode()
    assert text.startswith(f"# INC-{incident.pk} Checkout is down\n")
    assert "- Severity: Critical" in text
    assert "- Team: Payments" in text
    event = incident.events.get(kind="note_added")
    assert f"- **{event.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC**" in text
    assert "  > Rolled back the deploy" in text


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_the_export_of_a_private_incident_is_a_404_to_whoever_may_not_see_it(
    outsider_client, private_incident, fmt
):
    services.incident_add_note(
        incident=private_incident, text="key id 4f2a", actor=private_incident.declared_by
    )
    response = export(outsider_client, private_incident, fmt)
    assert response.status_code == 404
    body = response.content.decode()
    assert "key id 4f2a" not in body and "Leaked signing key" not in body
    assert "attachment" not in response.get("Content-Disposition", "")


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_the_export_of_a_private_incident_is_served_to_its_team_and_an_admin(
    client, member, private_incident, fmt
):
    services.incident_add_note(incident=private_incident, text="key id 4f2a", actor=member)
    for person in (member, AdminFactory(username="root")):
        client.force_login(person)
        response = export(client, private_incident, fmt)
        assert response.status_code == 200, person
        assert "key id 4f2a" in response.content.decode()


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_the_export_needs_a_signed_in_person(client, incident, fmt):
    response = export(client, incident, fmt)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_an_unknown_incident_exports_as_a_404(member_client):
    assert member_client.get("/incidents/999999/timeline.csv").status_code == 404
    assert member_client.get(f"/incidents/{2**70}/timeline.md").status_code == 404


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain text = fine", "plain text = fine"),
        ("", ""),
        (None, ""),
    ],
)
def test_csv_cells_that_start_like_a_formula_are_text(value, expected):
    assert csv_cell(value) == expected


def test_the_csv_export_is_safe_from_formula_injection(client, member, team):
    evil = UserFactory(username="evil", first_name="=cmd|' /C calc'!A0", last_name="")
    from teams.models import Membership
    from tests.factories import MembershipFactory

    MembershipFactory(team=team, user=evil, role=Membership.Role.MEMBER)
    incident = services.incident_declare(title="=1+1", severity="major", actor=evil, team=team)
    services.incident_add_note(
        incident=incident, text='=HYPERLINK("http://evil.example","click")', actor=evil
    )
    services.incident_add_note(incident=incident, text="@SUM(1+1)*cmd|' /C calc'!A0", actor=evil)
    services.incident_add_note(incident=incident, text="-2+3", actor=evil)
    client.force_login(member)
    rows = csv_rows(export(client, incident, "csv"))
    cells = [value for row in rows for value in row.values()]
    assert cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    texts = [r["text"] for r in rows if r["kind"] == "note_added"]
    assert texts == ['\'=HYPERLINK("http://evil.example","click")', "'@SUM(1+1)*cmd|' /C calc'!A0", "'-2+3"]
    assert {r["actor"] for r in rows} == {"'=cmd|' /C calc'!A0"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[click](http://evil.example)", "\\[click\\]\\(http://evil.example\\)"),
        ("![x](http://evil.example/t.png)", "\\!\\[x\\]\\(http://evil.example/t.png\\)"),
        ("<script>alert(1)</script>", "\\<script\\>alert\\(1\\)\\</script\\>"),
        ("# Heading", "\\# Heading"),
        ("**bold** _em_ `code` ~~s~~ a|b", "\\*\\*bold\\*\\* \\_em\\_ \\`code\\` \\~\\~s\\~\\~ a\\|b"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("=====", "\\====="),
        ("> quote", "\\> quote"),
        ("&amp; &#60;", "\\&amp; \\&\\#60;"),
        ("two\nlines\n# no heading", "two lines \\# no heading"),
        ("back\\slash", "back\\\\slash"),
        ("plain words, INC-12: fine.", "plain words, INC-12: fine."),
    ],
)
def test_markdown_escaping(value, expected):
    assert md_escape(value) == expected


def test_the_markdown_export_is_safe_from_markdown_injection(client, member, team):
    incident = services.incident_declare(
        title="[Reset your password](http://evil.example) <img src=x onerror=alert(1)>",
        severity="major",
        actor=member,
        team=team,
    )
    services.incident_add_note(
        incident=incident,
        text="# Resolved\n[all clear](http://evil.example)\n<b>hi</b>\n- item",
        actor=member,
    )
    client.force_login(member)
    text = export(client, incident, "md").content.decode()
    lines = text.splitlines()
    # The only heading lines are the export's own; user text cannot open a link, an image or HTML.
    assert [line for line in lines if line.startswith("#")] == [lines[0], "## Timeline"]
    assert "](" not in text.replace("\\](", "").replace("\\]\\(", "")
    assert "<" not in text.replace("\\<", "")
    assert "  > \\# Resolved" in lines
    assert "  > \\[all clear\\]\\(http://evil.example\\)" in lines
    assert "  > \\<b\\>hi\\</b\\>" in lines
    assert "  > \\- item" in lines
    assert lines[0] == (
        f"# INC-{incident.pk} \\[Reset your password\\]\\(http://evil.example\\) \\<img src=x onerror=alert\\(1\\)\\>"
    )


def test_the_export_has_what_the_timeline_shows_and_no_other_incidents_events(
    member_client, incident, member
):
    other = services.incident_declare(title="Other", severity="minor", actor=member)
    services.incident_add_note(incident=other, text="not this one", actor=member)
    for fmt in ("md", "csv"):
        assert "not this one" not in export(member_client, incident, fmt).content.decode()


# --- Quick switcher --------------------------------------------------------------------------------------------


def suggest(client, q):
    return client.get(reverse("incidents:switcher"), {"q": q})


def test_the_switcher_suggests_by_number_and_reference(member_client, incident, member):
    services.incident_declare(title=f"Mentions {incident.pk} in its title", severity="minor", actor=member)
    for text in (str(incident.pk), f"INC-{incident.pk}", f"inc{incident.pk}", f"#{incident.pk}"):
        response = suggest(member_client, text)
        assert response.status_code == 200
        results = response.json()["results"]
        assert results[0]["id"] == incident.pk, text
        assert results[0]["url"] == incident.get_absolute_url()
        assert results[0]["reference"] == incident.reference
    # A bare number also finds titles holding it, after the incident it names.
    assert len(suggest(member_client, str(incident.pk)).json()["results"]) == 2


def test_the_switcher_suggests_by_title_words_open_first(member_client, member, incident):
    resolved = services.incident_declare(title="Checkout slow in EU", severity="minor", actor=member)
    services.incident_transition(incident=resolved, to="resolved", actor=member)
    services.incident_declare(title="Search is slow", severity="minor", actor=member)
    opened = services.incident_declare(title="checkout SLOW for cards", severity="minor", actor=member)
    results = suggest(member_client, "slow checkout").json()["results"]
    assert [r["id"] for r in results] == [opened.pk, resolved.pk]
    assert results[0]["status"] == "triage" and results[1]["status"] == "resolved"
    assert suggest(member_client, "nothing-like-this").json()["results"] == []
    assert suggest(member_client, "   ").json()["results"] == []


def test_the_switcher_respects_private_incidents(outsider_client, private_incident, incident):
    assert suggest(outsider_client, "leaked").json()["results"] == []
    assert suggest(outsider_client, str(private_incident.pk)).json()["results"] == []
    assert [r["id"] for r in suggest(outsider_client, "checkout").json()["results"]] == [incident.pk]


def test_the_switcher_refuses_hostile_input_with_a_clear_400(member_client):
    response = suggest(member_client, "x" * 201)
    assert response.status_code == 400
    assert "200 characters" in response.json()["detail"]
    assert suggest(member_client, "a\x00b").status_code == 400
    assert suggest(member_client, "9" * 40).status_code == 200  # a number no id can be
    assert suggest(member_client, "%_").json()["results"] == []


def test_the_switcher_needs_a_signed_in_person(client):
    assert suggest(client, "1").status_code == 302


def test_go_opens_an_incident_by_number_or_searches_the_list(member_client, incident):
    go = reverse("incidents:go")
    for text in (str(incident.pk), incident.reference, f" inc-{incident.pk} "):
        response = member_client.get(go, {"q": text})
        assert response.status_code == 302
        assert response["Location"] == incident.get_absolute_url(), text
    response = member_client.get(go, {"q": "checkout down"})
    assert response["Location"] == reverse("incidents:list") + "?q=checkout+down"
    assert member_client.get(response["Location"]).status_code == 200
    assert member_client.get(go, {"q": ""})["Location"] == reverse("incidents:list")
    assert member_client.get(go)["Location"] == reverse("incidents:list")


def test_go_does_not_reveal_a_private_incident(outsider_client, private_incident):
    response = outsider_client.get(reverse("incidents:go"), {"q": str(private_incident.pk)})
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:list") + f"?q={private_incident.pk}"


def test_every_page_has_the_switcher_and_its_script(member_client):
    html = member_client.get(reverse("incidents:dashboard")).content.decode()
    assert 'data-testid="switcher"' in html
    assert f'action="{reverse("incidents:go")}"' in html
    assert 'aria-keyshortcuts="/ Control+K Meta+K"' in html
    assert "js/switcher.js" in html


def test_the_list_search_finds_by_title(member_client, incident):
    response = member_client.get(reverse("incidents:list"), {"q": "checkout"})
    assert f'data-incident="{incident.pk}"' in response.content.decode()
    response = member_client.get(reverse("incidents:list"), {"q": "nothing-like-this"})
    assert f'data-incident="{incident.pk}"' not in response.content.decode()


# --- Query counts: constant however long the timeline or the result list ---------------------------------------


def query_count(client, url, params=None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "name", ["incidents:timeline_markdown", "incidents:timeline_csv", "incidents:timeline"]
)
def test_the_export_and_the_timeline_page_cost_the_same_queries_for_a_long_timeline(
    member_client, incident, member, name
):
    url = reverse(name, args=[incident.pk])
    services.incident_add_note(incident=incident, text="one", actor=member)
    services.incident_assign_role(incident=incident, role="lead", user=member, actor=member)
    short = query_count(member_client, url)
    for i in range(15):
        services.incident_add_note(incident=incident, text=f"note {i}", actor=member)
        services.incident_assign_role(incident=incident, role="lead", user=UserFactory(), actor=member)
    assert query_count(member_client, url) == short


def test_the_switcher_costs_the_same_queries_for_many_results(member_client, member):
    services.incident_declare(title="Checkout down", severity="minor", actor=member)
    one = query_count(member_client, reverse("incidents:switcher"), {"q": "checkout"})
    for i in range(10):
        services.incident_declare(title=f"Checkout down {i}", severity="minor", actor=member)
    assert query_count(member_client, reverse("incidents:switcher"), {"q": "checkout"}) == one


def test_the_export_keeps_a_changed_title_in_full(member_client, incident, member):
    long_title = "Checkout " + "x" * 180
    services.incident_update(incident=incident, actor=member, title=long_title)
    rows = csv_rows(export(member_client, incident, "csv"))
    change = next(r for r in rows if r["kind"] == "fields_changed")
    assert change["changes"] == f"Title: Checkout is down → {long_title}"
    assert change["what"] == "changed the details"
    text = export(member_client, incident, "md").content.decode()
    assert f"  - Title: Checkout is down → {long_title}" in text
