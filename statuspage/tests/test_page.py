"""The public HTML status page, signed out: the banner, components with their history, active incidents and
maintenances with their updates, past incidents; never a private incident, an internal note, a responder's name
or a staff link; a warm request does no query, answers 304 to its ETag and never reads the session."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents.services import incident_assign_role
from statuspage import history, services
from statuspage.models import PublicUpdate
from statuspage.tests.helpers import INTERNAL_NOTE, PRIVATE_TITLE, build_world
from tests.factories import IncidentFactory, UserFactory

RESPONDER = "Zebulon Quartermaine"
NASTY = "<script>alert(1)</script> & ]]> done"


@pytest.fixture
def world(db):
    w = build_world(groups=True)
    lead = UserFactory(username="zq", first_name="Zebulon", last_name="Quartermaine")
    incident_assign_role(incident=w.incident, role="lead", user=lead, actor=w.admin)
    return w


def body(response) -> str:
    return response.content.decode()


def test_signed_out_page_shows_components_incidents_updates_and_maintenances(client, world):
    response = client.get("/status/acme/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = body(response)
    assert "Partial System Outage" in html  # the banner: the open major incident's indicator
    assert 'class="sp-banner sp-indicator-major"' in html
    for name in ("API", "Management Portal", "Storage", "Blobs"):
        assert f'<span class="sp-component-name">{name}</span>' in html
    api = html[html.index(f'id="component-{world.api.code}"') :]
    assert api.index("Partial outage") < api.index("</li>")  # the API's own status, derived from the incident
    assert "Elevated API errors" in html
    assert "We are investigating elevated error rates on the API." in html
    assert "We are aware there is an issue with the API." in html
    assert "This affected: API" in html
    assert "Web tier recycle" in html and "Maintenance is in progress." in html  # active
    assert "Network maintenance" in html and "Scheduled maintenance" in html  # upcoming
    assert "Portal display glitch" in html and "We have resolved the issue." in html  # past
    assert re.search(r"\d\d:\d\d UTC, \d{1,2} [A-Z][a-z]{2}", html)
    assert "/static/css/status.css" in html


def test_the_default_page_is_served_at_status(client, world):
    assert body(client.get("/status/")) == body(client.get("/status/acme/"))


def test_no_staff_link_internal_note_responder_or_private_incident(client, world):
    IncidentFactory(title=PRIVATE_TITLE, private=True)
    later = services.public_incident_create(
        actor=world.admin, page=world.page, incident=IncidentFactory(title="Soon secret"),
        name="Login trouble", body="Some people cannot sign in.",
    )  # fmt: skip
    type(world.incident).objects.filter(pk=later.incident_id).update(private=True)
    html = body(client.get("/status/acme/"))
    assert "Elevated API errors" in html  # the check can see what is published
    assert PRIVATE_TITLE not in html and "Login trouble" not in html and later.code not in html
    assert INTERNAL_NOTE not in html and "corp.internal" not in html
    assert "Checkout latency" not in html  # the incident's own title is not the public name
    assert "Zebulon" not in html and "Quartermaine" not in html and RESPONDER not in html
    assert world.admin.username not in html
    for staff in ("/incidents", "/admin", "/accounts", "Sign out", "Declare", "csrf"):
        assert staff not in html
    # Every link stays on the page (its feeds, itself, its stylesheet): relative, so the static copy works too.
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    assert hrefs == {
        "./",
        "history.rss",
        "history.atom",
        "/static/css/status.css",
        "/status/acme/subscribe/",
    }, hrefs


def test_warm_page_does_no_query_answers_304_and_shows_a_change_at_once(
    client, world, settings, django_assert_num_queries, django_capture_on_commit_callbacks
):
    settings.STATUSPAGE_MAX_AGE = 45
    first = client.get("/status/acme/")
    assert first["Cache-Control"] == "public, max-age=45"
    assert "Vary" not in first or "Cookie" not in first["Vary"]
    with django_assert_num_queries(0):
        warm = client.get("/status/acme/")
    assert warm.content == first.content and warm["ETag"] == first["ETag"]
    with django_assert_num_queries(0):
        not_modified = client.get("/status/acme/", headers={"if-none-match": first["ETag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == first["ETag"]
    assert client.get("/status/acme/", headers={"if-none-match": '"other"'}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.public_update_publish(
            actor=world.admin,
            public_incident=world.open_incident,
            status="monitoring",
            body="A fix is in place; we are monitoring.",
        )
    after = client.get("/status/acme/", headers={"if-none-match": first["ETag"]})
    assert after.status_code == 200 and after["ETag"] != first["ETag"]
    assert "A fix is in place; we are monitoring." in body(after)


def test_a_public_page_never_reads_the_session(client, world, django_assert_num_queries):
    client.get("/status/acme/")  # warm
    # A stale session cookie would cost a query on the session table if anything read request.user.
    client.cookies["sessionid"] = "x" * 32
    with django_assert_num_queries(0):
        response = client.get("/status/acme/")
    assert response.status_code == 200
    assert "Cookie" not in response.get("Vary", "")
    assert "Set-Cookie" not in response.headers and not response.cookies
    client.force_login(world.admin)  # signed in, the public page is the same page, still without a query
    with django_assert_num_queries(0):
        signed_in = client.get("/status/acme/")
    assert signed_in.content == response.content
    assert signed_in["Cache-Control"].startswith("public")


def test_an_internal_page_is_404_signed_out_and_private_signed_in(client, db, django_assert_num_queries):
    admin = UserFactory(is_superuser=True, is_staff=True)
    services.status_page_create(actor=admin, name="Staff", slug="staff", visibility="internal")
    for path in ("/status/staff/", "/status/staff/history.rss", "/status/staff/history.atom"):
        assert client.get(path).status_code == 404
    client.force_login(UserFactory())
    response = client.get("/status/staff/")
    assert response.status_code == 200 and "All Systems Operational" in body(response)
    assert response["Cache-Control"] == "private, no-cache"
    assert "Cookie" in response["Vary"]


def test_unknown_page_is_404_and_cached(client, db, django_assert_num_queries):
    assert client.get("/status/nope/").status_code == 404
    with django_assert_num_queries(0):
        assert client.get("/status/nope/").status_code == 404
    assert client.get("/status/" + "a" * 300 + "/").status_code == 404
    assert client.post("/status/nope/").status_code == 405


def test_a_cold_render_costs_the_same_queries_however_big_the_page(
    client, world, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cold() -> int:
        from statuspage import cache

        cache.invalidate("acme")
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/status/acme/").status_code == 200
        return len(queries)

    before = cold()
    for n in range(4):
        component = services.component_create(actor=world.admin, page=world.page, name=f"Extra {n}")
        services.public_incident_create(
            actor=world.admin, page=world.page, name=f"Extra incident {n}", body="Looking.",
            components={component: "major_outage", world.api: "degraded_performance"},
        )  # fmt: skip
    assert cold() == before


def test_title_and_body_are_escaped(client, world):
    services.public_incident_create(
        actor=world.admin, page=world.page, name=f"Title {NASTY}", body=f"Body {NASTY}",
    )  # fmt: skip
    html = body(client.get("/status/acme/"))
    assert "<script>alert(1)</script>" not in html
    assert "script-src" not in (csp := client.get("/status/acme/")["Content-Security-Policy"])
    assert csp.startswith("default-src 'none'")  # and nothing would run if it slipped through
    assert "Title &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; done" in html
    assert "Body &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; done" in html


def _at(days_ago: int, hour: int = 12) -> datetime:
    today = timezone.now().astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def test_uptime_bars_colour_each_day_by_the_worst_public_incident_status(client, world):
    now = timezone.now()
    # The API: partial outage from the open incident today; a major outage three days ago for a day and a half.
    old = services.public_incident_create(
        actor=world.admin, page=world.page, name="Old outage", body="Down.",
        components={world.api: "major_outage"},
    )  # fmt: skip
    type(old).objects.filter(pk=old.pk).update(created_at=_at(3))
    PublicUpdate.objects.filter(public_incident=old).update(display_at=_at(3))
    services.public_update_publish(actor=world.admin, public_incident=old, status="resolved", body="Fixed.")
    resolved = _at(2, hour=0)
    type(old).objects.filter(pk=old.pk).update(resolved_at=resolved)
    PublicUpdate.objects.filter(public_incident=old, status="resolved").update(display_at=resolved)
    # A private incident's public twin never colours a day.
    hidden = services.public_incident_create(
        actor=world.admin, page=world.page, incident=IncidentFactory(title="Soon secret"),
        name="Hidden", body="x", components={world.portal: "major_outage"},
    )  # fmt: skip
    type(world.incident).objects.filter(pk=hidden.incident_id).update(private=True)

    worst = history.worst_by_day(history.history_incidents(page=world.page, now=now), now=now)
    today = now.astimezone(UTC).date()
    api = worst[world.api.pk]
    assert api[today] == "partial_outage"
    assert api[today - timedelta(days=3)] == "major_outage"
    assert api[today - timedelta(days=2)] == "major_outage"  # the outage lasted until 00:00 two days ago
    assert today - timedelta(days=1) not in api and today - timedelta(days=4) not in api
    assert world.portal.pk not in worst or all(s != "major_outage" for s in worst[world.portal.pk].values())

    bars = history.bars(api, now=now)
    assert len(bars) == history.HISTORY_DAYS and bars[-1].day == today
    assert [b.status for b in bars[-4:]] == ["major_outage", "major_outage", "operational", "partial_outage"]

    html = body(client.get("/status/acme/"))
    api_html = html[html.index(f'id="component-{world.api.code}"') :]
    api_html = api_html[: api_html.index("</li>")]
    assert api_html.count('class="sp-bar ') == history.HISTORY_DAYS
    assert api_html.count('class="sp-bar sp-major_outage"') == 2
    assert "Old outage" in html  # in the past incidents of three days ago


def test_an_incident_made_private_leaves_the_warm_page_and_feeds_at_once(
    client, world, django_capture_on_commit_callbacks
):
    from incidents.services import incident_update

    paths = ("/status/acme/", "/status/", "/status/acme/history.rss", "/status/history.atom")
    for path in paths:
        assert "Elevated API errors" in body(client.get(path))  # warm, showing it
    with django_capture_on_commit_callbacks(execute=True):
        incident_update(incident=world.incident, actor=world.admin, private=True)
    for path in paths:
        after = body(client.get(path))
        assert "Elevated API errors" not in after and world.open_incident.code not in after
        assert "Portal display glitch" in after


def test_a_component_shown_only_if_degraded(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        quiet = services.component_create(
            actor=world.admin, page=world.page, name="Quiet Corner", only_show_if_degraded=True
        )
    assert "Quiet Corner" not in body(client.get("/status/acme/"))
    with django_capture_on_commit_callbacks(execute=True):
        services.component_update(actor=world.admin, component=quiet, manual_status="degraded_performance")
    html = body(client.get("/status/acme/"))
    assert "Quiet Corner" in html and "Degraded performance" in html
