"""A responder's walk through the web UI in a real Chromium (Playwright, sync API).

Sign in, declare an incident, triage it, assign a lead and a messenger, add notes, resolve and close it, checking
what the page shows after each step and what the database holds at the end. Screenshots of the main pages at laptop
and phone widths are saved to ``test-artifacts/`` (gitignored) for a human to look at.
"""

import os
import re
from pathlib import Path

import pytest

from incidents.models import Incident, TimelineEvent
from teams.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls below are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed: the browser test needs Debian's chromium package.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def people(transactional_db):
    team = TeamFactory(name="Payments", slug="payments")
    dora = UserFactory(username="dora", first_name="Dora", last_name="Diaz")
    dora.set_password("correct horse battery")
    dora.save()
    eve = UserFactory(username="eve", first_name="Eve", last_name="Evans")
    MembershipFactory(team=team, user=dora, role=Membership.Role.MEMBER)
    MembershipFactory(team=team, user=eve, role=Membership.Role.MEMBER)
    return {"dora": dora, "eve": eve, "team": team}


def new_page(browser, viewport, errors):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return page


def sign_in(page, base, username="dora", password="correct horse battery"):
    page.goto(base + "/")
    assert "/accounts/login/" in page.url  # anonymous: sent to sign in
    page.fill("#id_login", username)
    page.fill("#id_password", password)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(base + "/")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_responder_walks_an_incident_from_declare_to_close(browser, live_server, people):
    from playwright.sync_api import expect

    base = live_server.url
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)

    # Sign in: the dashboard says nothing is open and what to do.
    sign_in(page, base)
    expect(page.get_by_test_id("empty-state")).to_contain_text("declare an incident")

    # Declare: title, severity card, a few details, and no lead yet.
    page.get_by_test_id("declare-button").click()
    page.wait_for_url(base + "/incidents/declare/")
    page.fill("#id_title", "Checkout returns 502 for card payments")
    page.locator("label.severity-card", has_text="Critical").click()
    page.get_by_text("Add details").click()
    page.fill("#id_summary", "Error rate on /checkout at 30% since the 14:02 deploy.")
    page.select_option("#id_team", "payments")
    page.get_by_role("checkbox", name="Customers are affected").check()
    page.get_by_test_id("declare-submit").click()
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))
    pk = int(re.search(r"/incidents/(\d+)/$", page.url).group(1))
    expect(page.get_by_test_id("incident-title")).to_have_text("Checkout returns 502 for card payments")
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Triage")
    expect(page.get_by_test_id("next-actions")).to_contain_text("Nobody leads this incident")
    expect(page.get_by_test_id("next-actions")).to_contain_text("Nobody talks to customers")
    expect(page.get_by_test_id("timeline")).to_contain_text("Dora Diaz declared the incident")

    # From here on every action swaps parts of the page in place (htmx): the marker survives.
    page.evaluate("window.__samePage = true")

    # Triage: move to investigating.
    page.fill("#transition-reason", "Looking at the deploy")
    page.get_by_test_id("to-investigating").click()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Investigating")
    expect(page.get_by_test_id("timeline")).to_contain_text("Looking at the deploy")
    expect(page.get_by_test_id("to-investigating")).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text(f"INC-{pk} is now investigating.")

    # Assign a lead (I take it) and a messenger (Eve, from the team).
    page.get_by_test_id("take-lead").click()
    expect(page.get_by_test_id("holder-lead")).to_contain_text("Dora Diaz")
    expect(page.get_by_test_id("next-actions")).not_to_contain_text("Nobody leads this incident")
    page.select_option("select[data-testid=assign-messenger]", label="Eve Evans (eve)")
    page.get_by_test_id("assign-messenger-submit").click()
    expect(page.get_by_test_id("holder-messenger")).to_contain_text("Eve Evans")
    expect(page.get_by_test_id("next-actions")).not_to_contain_text("Nobody talks to customers")
    expect(page.get_by_test_id("timeline")).to_contain_text("made Eve Evans messenger")

    # Notes: with the button, and with Ctrl+Enter.
    page.fill("#note-text", "Rolling back the 14:02 deploy first.")
    page.get_by_test_id("add-note").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("Rolling back the 14:02 deploy first.")
    expect(page.locator("#note-text")).to_have_value("")
    page.fill("#note-text", "Rollback done; error rate back to 0.1%.")
    page.press("#note-text", "Control+Enter")
    expect(page.get_by_test_id("timeline")).to_contain_text("Rollback done; error rate back to 0.1%.")

    # Resolve, then close from the next-action hint.
    page.get_by_test_id("to-resolved").click()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Resolved")
    expect(page.get_by_test_id("next-actions")).to_contain_text("close it or write the postmortem")
    shot(page, "incident-resolved-laptop")
    page.get_by_test_id("next-actions").get_by_role("button", name="Close incident").click()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Closed")
    expect(page.get_by_test_id("status-panel")).to_contain_text("its status is final")
    assert page.evaluate("window.__samePage") is True
    shot(page, "incident-laptop")

    # The database agrees with the page.
    incident = Incident.objects.get(pk=pk)
    assert incident.status == "closed"
    assert incident.customer_impact and incident.team.slug == "payments"
    assert incident.declared_by == people["dora"]
    events = list(TimelineEvent.objects.filter(incident=incident).order_by("id"))
    assert [e.kind for e in events] == [
        "declared",
        "status_changed",
        "role_assigned",
        "role_assigned",
        "note_added",
        "note_added",
        "status_changed",
        "status_changed",
    ]
    assert [e.data.get("new") for e in events if e.kind == "status_changed"] == [
        "investigating",
        "resolved",
        "closed",
    ]
    assert {e.source for e in events} == {"web"}
    assert {e.actor_id for e in events} == {people["dora"].pk}

    # Screenshots of the main pages, laptop and phone, for a human to look at.
    for viewport, suffix in ((LAPTOP, "laptop"), (PHONE, "phone")):
        p = page if suffix == "laptop" else new_page(browser, viewport, errors)
        if suffix == "phone":
            sign_in(p, base)
            p.goto(f"{base}/incidents/{pk}/")
            shot(p, "incident-phone")
        for path, name in (("/", "dashboard"), ("/incidents/", "list"), ("/incidents/declare/", "declare")):
            p.goto(base + path)
            shot(p, f"{name}-{suffix}")

    assert errors == []


def test_the_incident_page_works_without_javascript(browser, live_server, people):
    """Progressive enhancement: with JavaScript off, every action is a plain form POST and a redirect."""
    from playwright.sync_api import expect

    from incidents import services

    incident = services.incident_declare(
        title="Invoices slow", severity="minor", actor=people["dora"], team=people["team"]
    )
    context = browser.new_context(viewport=LAPTOP, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.get_by_test_id("to-investigating").click()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Investigating")
    page.get_by_test_id("take-lead").click()
    expect(page.get_by_test_id("holder-lead")).to_contain_text("Dora Diaz")
    page.fill("#note-text", "Works without JavaScript.")
    page.get_by_test_id("add-note").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("Works without JavaScript.")
    incident.refresh_from_db()
    assert incident.status == "investigating"


@pytest.mark.parametrize(("path", "ready"), [("/api/docs/", ".swagger-ui .info"), ("/api/redoc/", "h1")])
def test_the_api_docs_request_nothing_from_another_host(browser, live_server, path, ready):
    """Swagger UI and ReDoc render from the site alone: every request the browser makes, scripts, styles, fonts,
    images and the schema, goes to the site (any other is recorded and refused, so the test never leaves it)."""
    from playwright.sync_api import expect

    base = live_server.url
    outside: list[str] = []
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)

    def only_the_site(route):
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_site)
    page.goto(base + path)
    expect(page.locator(ready).first).to_contain_text("Muster API")
    page.wait_for_load_state("networkidle")
    assert outside == []
    # ReDoc's "API docs by Redocly" logo comes from its CDN: the page's policy refuses it (and ReDoc hides it).
    assert [e for e in errors if "violates the following Content Security Policy" not in e] == []
