"""Live pages and stale clicks in a real Chromium: two responders on one incident see each other's changes in every
panel within the refresh period, a click on a page that missed a change is refused with what changed, Back after
resolving shows the current incident, and the dashboard shows an incident declared elsewhere.

The poll runs every second here (``LIVE_POLL_SECONDS``), so "within the refresh period" is a few seconds at most;
Playwright's ``expect`` retries for up to ten.
"""

import re
import time

import pytest

from incidents import selectors, services
from incidents.models import Incident
from paging.models import Page
from teams.models import Membership
from tests import test_browser
from tests.factories import MembershipFactory, UserFactory
from tests.test_browser import LAPTOP, new_page, sign_in

browser = test_browser.browser
people = test_browser.people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
POLL = "**/*_live=*"


@pytest.fixture
def fast_poll(settings):
    settings.LIVE_POLL_SECONDS = 1.0
    settings.LIVE_MAX_AGE_SECONDS = 30.0


@pytest.fixture
def crew(people):
    """Dora (A) and Eve (B) of Payments, both signed in later; Bob and Dave, members who will lead and be paged."""
    eve = people["eve"]
    eve.set_password(PASSWORD)
    eve.save()
    bob = UserFactory(username="bob", first_name="Bob", last_name="Okafor")
    dave = UserFactory(username="dave", first_name="Dave", last_name="Kim")
    for user in (bob, dave):
        MembershipFactory(team=people["team"], user=user, role=Membership.Role.MEMBER)
    return {**people, "bob": bob, "dave": dave}


def real_errors(errors: list[str]) -> list[str]:
    """Console errors less the ones a test causes on purpose: a poll it blocks is a failed request."""
    return [e for e in errors if "net::ERR_FAILED" not in e and "Failed to load resource" not in e]


def record_highlights(page):
    """Keep, in ``window.__flashed``, every element the page highlights as changed by someone else (the class
    stays only a few seconds)."""
    page.evaluate(
        """() => {
        window.__flashed = [];
        new MutationObserver(records => records.forEach(r => {
            const el = r.target;
            if (el.classList && el.classList.contains("live-changed")) {
                window.__flashed.push((el.getAttribute("data-testid") || "") + "#" + (el.id || "") + " " + el.tagName);
            }
        })).observe(document.body, {attributes: true, attributeFilter: ["class"], subtree: true});
    }"""
    )


def open_incident_as(browser, base, username, incident, errors):
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base, username=username, password=PASSWORD)
    page.goto(f"{base}/incidents/{incident.pk}/")
    return page


def test_two_responders_see_each_others_changes_in_every_panel(browser, live_server, crew, fast_poll):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title="Checkout returns 502", severity="major", actor=crew["dora"], team=crew["team"]
    )
    errors: list[str] = []
    a = open_incident_as(browser, base, "dora", incident, errors)
    b = open_incident_as(browser, base, "eve", incident, errors)
    for page in (a, b):
        expect(page.get_by_test_id("to-declined")).to_be_visible()
        expect(page.get_by_test_id("holder-lead")).to_have_text("Unassigned")
    expect(a.get_by_test_id("page-panel")).to_contain_text("Nobody has been paged")
    # A has started a status update and left the cursor in it: the refreshes re-render its form (it carries the
    # version) but must not take the text or the cursor away.
    a.click("label[for=tab-update]")
    draft = "Half-written: the 502s started at 14:0"
    a.fill("#update-text", draft)
    a.focus("#update-text")
    old_form = a.locator("#update-form").element_handle()
    record_highlights(a)
    polls: list[str] = []
    a.on("request", lambda r: polls.append(r.url) if "_live=" in r.url else None)

    # B moves it to Identified, makes Bob lead and pages Dave, with the page's own controls.
    b.get_by_test_id("to-identified").click()
    expect(b.locator("[data-testid=status] .pill")).to_have_text("Identified")
    b.get_by_test_id("assign-lead").select_option(str(crew["bob"].pk))
    b.get_by_test_id("assign-lead-submit").click()
    expect(b.get_by_test_id("holder-lead")).to_contain_text("Bob Okafor")
    b.get_by_test_id("page-user").select_option(str(crew["dave"].pk))
    b.get_by_test_id("page-submit").click()
    expect(b.get_by_test_id("page-list")).to_contain_text("Dave Kim")

    # A's page shows all of it, in every panel, without a reload.
    expect(a.locator("[data-testid=status] .pill")).to_have_text("Identified")  # header
    status_panel = a.get_by_test_id("status-panel")
    expect(status_panel.locator(".pill")).to_have_text("Identified")
    expect(a.get_by_test_id("to-declined")).to_have_count(0)  # triage's moves are gone
    expect(a.get_by_test_id("to-identified")).to_have_count(0)
    expect(a.get_by_test_id("to-monitoring")).to_be_visible()
    expect(a.get_by_test_id("holder-lead")).to_contain_text("Bob Okafor")  # roles
    expect(a.get_by_test_id("page-list")).to_contain_text("Dave Kim")  # paging
    timeline = a.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Bob Okafor")
    expect(timeline).to_contain_text("Dave Kim")
    # Every action form on A's page carries the version B's changes made (retried: a consumer may still be
    # recording the page's delivery, which the next poll brings).
    deadline = time.monotonic() + 10
    while True:
        current = Incident.objects.get(pk=incident.pk).version
        versions = a.locator("input[name=version]").evaluate_all("els => els.map(e => e.value)")
        if (versions and set(versions) == {str(current)}) or time.monotonic() > deadline:
            break
        a.wait_for_timeout(200)
    assert versions and set(versions) == {str(current)}, (versions, current)
    # What changed was highlighted; the half-written update is still there, cursor and all, in a new form.
    flashed = a.evaluate("window.__flashed")
    assert any("status-panel" in f for f in flashed), flashed
    assert any("roles-panel" in f for f in flashed), flashed
    assert any("page-panel" in f for f in flashed), flashed
    expect(a.locator("#update-text")).to_have_value(draft)
    assert a.evaluate("document.activeElement && document.activeElement.id") == "update-text"
    assert old_form.evaluate("el => !el.isConnected"), "the update form was not re-rendered"
    assert polls, "A's page never asked for the current state"
    assert Page.objects.filter(incident=incident, user=crew["dave"]).exists()
    assert not real_errors(errors), errors


def test_a_click_on_a_stale_page_is_refused_with_what_changed(browser, live_server, crew, fast_poll):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title="Checkout returns 502", severity="major", actor=crew["dora"], team=crew["team"]
    )
    errors: list[str] = []
    a = open_incident_as(browser, base, "dora", incident, errors)
    expect(a.get_by_test_id("take-lead")).to_be_visible()
    # A's page stops learning about changes: every poll fails, as on a flaky network.
    a.route(POLL, lambda route: route.abort())

    # Meanwhile Eve makes Bob lead and pages Dave.
    services.incident_assign_role(
        incident=incident, role="lead", user=crew["bob"], actor=crew["eve"], source="web"
    )
    from paging import services as paging_services

    paging_services.page_create(incident=incident.pk, user=crew["dave"], actor=crew["eve"])
    # A's page still shows the state before (it could not refresh), and says that it may be out of date.
    expect(a.get_by_test_id("live-status")).to_contain_text("may be out of date")
    expect(a.get_by_test_id("holder-lead")).to_have_text("Unassigned")

    # "Take it" on the stale page is refused with what changed and by whom; nothing was changed.
    a.get_by_test_id("take-lead").click()
    toast = a.locator(".toast-error")
    expect(toast).to_contain_text(re.compile(r"Bob Okafor became incident lead .* ago"))
    expect(toast).to_contain_text("Nothing was changed")
    # The page shows the current state: Bob leads.
    expect(a.get_by_test_id("holder-lead")).to_contain_text("Bob Okafor")
    lead = selectors.current_roles(Incident.objects.get(pk=incident.pk))["lead"]
    assert lead.user_id == crew["bob"].pk

    # Once the network is back, the rest of the page catches up too (the paging panel) and the warning goes.
    a.unroute(POLL)
    expect(a.get_by_test_id("page-list")).to_contain_text("Dave Kim")
    expect(a.get_by_test_id("live-status")).to_be_hidden()
    assert not real_errors(errors), errors


def test_back_after_resolving_cannot_reopen_the_incident(browser, live_server, crew, fast_poll):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title="Checkout returns 502", severity="critical", actor=crew["dora"], team=crew["team"]
    )
    errors: list[str] = []
    page = open_incident_as(browser, base, "dora", incident, errors)
    expect(page.get_by_test_id("to-investigating")).to_have_text("Investigate")
    page.get_by_test_id("to-resolved").click()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Resolved")

    page.goto(f"{base}/incidents/")
    expect(page.locator(f"tr[data-incident='{incident.pk}']")).to_contain_text("Resolved")
    response_headers: list[dict] = []
    page.on(
        "response",
        lambda r: response_headers.append(r.headers) if r.url == f"{base}/incidents/{incident.pk}/" else None,
    )
    page.go_back()
    expect(page).to_have_url(f"{base}/incidents/{incident.pk}/")

    # The page shown is the current one (never stored: the browser asked again), resolved, and it offers no
    # "Investigate": the one way back is "Reopen", said as such.
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Resolved")
    expect(page.get_by_test_id("to-resolved")).to_have_count(0)
    expect(page.get_by_test_id("to-declined")).to_have_count(0)
    expect(page.get_by_test_id("to-investigating")).to_have_text("Reopen")
    expect(page.get_by_role("button", name="Investigate", exact=True)).to_have_count(0)
    assert response_headers and "no-store" in response_headers[0].get("cache-control", "")
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    assert not real_errors(errors), errors


def test_the_dashboard_and_the_list_show_an_incident_declared_elsewhere(
    browser, live_server, crew, fast_poll
):
    from playwright.sync_api import expect

    base = live_server.url
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base)
    expect(page.get_by_test_id("empty-state")).to_be_visible()

    incident = services.incident_declare(
        title="Card payments declined", severity="critical", actor=crew["eve"], team=crew["team"]
    )
    expect(page.get_by_test_id("open-total")).to_have_text("1")
    expect(page.locator("#dashboard-live")).to_contain_text("Card payments declined")
    expect(page.get_by_test_id("empty-state")).to_have_count(0)

    page.goto(f"{base}/incidents/")
    expect(page.locator(f"tr[data-incident='{incident.pk}']")).to_contain_text("Triage")
    record_highlights(page)
    services.incident_transition(incident=incident, to="investigating", actor=crew["eve"], source="web")
    row = page.locator(f"tr[data-incident='{incident.pk}']")
    expect(row).to_contain_text("Investigating")
    assert any(f"incident-row-{incident.pk}" in f for f in page.evaluate("window.__flashed"))

    # The highlight fades; for someone who asked for reduced motion it is a steady outline instead.
    style = "el => { const s = getComputedStyle(el); return [s.animationName, s.outlineStyle]; }"
    probe = "document.querySelector('[data-testid=results-count]')"
    page.evaluate(f"{probe}.classList.add('live-changed')")
    assert page.locator("[data-testid=results-count]").evaluate(style) == ["live-flash", "none"]
    page.emulate_media(reduced_motion="reduce")
    assert page.locator("[data-testid=results-count]").evaluate(style) == ["none", "solid"]
    assert not real_errors(errors), errors
