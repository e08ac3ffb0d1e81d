"""Nobody left unpaged, and the next steps in the header, in a real Chromium: a critical incident declared without a
team warns that nobody has been paged, and paging from the warning pages (the paging panel shows it, the timeline
says so, the navigation counts the page ringing for me) and ends the warning; resolving an incident with customer
impact opens the final customer update, prefilled, which Skip puts away."""

import re

import pytest

from incidents import services
from incidents.models import TimelineEvent
from paging.models import Page
from tests import test_browser
from tests.test_browser import LAPTOP, PHONE, new_page, shot, sign_in

browser = test_browser.browser
people = test_browser.people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNPAGED = "[data-testid='hint-paging.unpaged']"


def test_a_critical_incident_declared_without_a_team_warns_and_pages_from_the_warning(
    browser, live_server, people
):
    from playwright.sync_api import expect

    base = live_server.url
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base)

    # The fastest declare: a title and a severity, no team.
    page.goto(f"{base}/incidents/declare/")
    page.fill("#id_title", "Checkout returns 502")
    page.locator("label.severity-card", has_text="Critical").click()
    page.get_by_test_id("declare-submit").click()
    expect(page).to_have_url(re.compile(r".*/incidents/\d+/$"))
    pk = int(re.search(r"/incidents/(\d+)/$", page.url).group(1))

    warning = page.locator(UNPAGED)
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Nobody has been paged")
    expect(warning).to_contain_text("It has no team")
    expect(page.get_by_test_id("page-panel")).to_contain_text("Nobody has been paged for this incident")
    expect(page.get_by_test_id("nav-badge-pages")).to_have_count(0)
    shot(page, "hints-unpaged-laptop")

    # Choose the team in the warning and page it.
    warning.get_by_test_id("hint-page-team-select").select_option("payments")
    warning.get_by_test_id("hint-page-team").click()

    expect(page.locator("#messages")).to_contain_text("Paging the Payments team.")
    expect(page.locator(UNPAGED)).to_have_count(0)
    expect(page.get_by_test_id("page-list")).to_contain_text("Payments")
    expect(page.get_by_test_id("page-list")).to_contain_text("Triggered")
    expect(page.get_by_test_id("timeline")).to_contain_text("Paged")
    # Dora is in Payments: the team's page rings for her, and the navigation says so.
    expect(page.get_by_test_id("nav-badge-pages")).to_have_text(re.compile(r"^1\s*ringing$"))

    page_row = Page.objects.get(incident_id=pk)
    assert page_row.team == people["team"] and page_row.created_by == people["dora"]
    assert TimelineEvent.objects.filter(incident_id=pk, kind="paged", actor=people["dora"]).exists()
    assert not errors, errors


def test_a_critical_incident_of_a_team_that_does_not_auto_page_pages_it_in_one_click(
    browser, live_server, people
):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title="Payments API timing out", severity="critical", actor=people["eve"], team=people["team"]
    )
    errors: list[str] = []
    page = new_page(browser, PHONE, errors)  # a phone at 3 a.m.
    sign_in(page, base)
    page.goto(f"{base}/incidents/{incident.pk}/")
    warning = page.locator(UNPAGED)
    expect(warning).to_be_visible()
    button = warning.get_by_test_id("hint-page-payments")
    expect(button).to_have_text("Page the on-call of Payments")
    shot(page, "hints-unpaged-phone")
    button.click()

    expect(page.locator(UNPAGED)).to_have_count(0)
    expect(page.get_by_test_id("page-list")).to_contain_text("Payments")
    assert Page.objects.filter(incident=incident, team=people["team"]).count() == 1
    assert not errors, errors


def test_resolving_opens_the_final_customer_update_prefilled_and_skip_puts_it_away(
    browser, live_server, people
):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title="Card payments failing",
        severity="major",
        actor=people["dora"],
        team=people["team"],
        customer_impact=True,
        lead=people["dora"],
    )
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base)
    page.goto(f"{base}/incidents/{incident.pk}/")
    expect(page.locator("#note-text")).to_be_visible()  # the note tab is the one open
    page.evaluate("window.__samePage = true")

    page.get_by_test_id("to-resolved").click()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Resolved")
    expect(page.get_by_test_id("hint-final-update")).to_be_visible()
    expect(page.locator("#update-text")).to_be_visible()  # the update tab opened by itself
    expect(page.locator("#update-text")).to_have_value(re.compile(r"^This incident has been resolved"))
    expect(page.get_by_test_id("post-update")).to_have_text("Post final update")
    shot(page, "hints-final-update-laptop")

    page.get_by_test_id("skip-final-update").click()
    expect(page.get_by_test_id("hint-final-update")).to_have_count(0)
    expect(page.get_by_test_id("skip-final-update")).to_have_count(0)
    expect(page.locator("#update-text")).to_have_value("")
    assert page.evaluate("window.__samePage") is True  # all in place, no reload
    page.reload()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Resolved")
    expect(page.get_by_test_id("hint-final-update")).to_have_count(0)  # asked once
    assert not TimelineEvent.objects.filter(incident=incident, kind="update_posted").exists()
    assert not errors, errors


def test_the_final_customer_update_posts_from_the_prompt(browser, live_server, people):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title="Card payments failing",
        severity="major",
        actor=people["dora"],
        team=people["team"],
        customer_impact=True,
        lead=people["dora"],
    )
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base)
    page.goto(f"{base}/incidents/{incident.pk}/")
    page.get_by_test_id("to-resolved").click()
    expect(page.locator("#update-text")).to_have_value(re.compile(r"^This incident has been resolved"))
    page.fill("#update-text", "Resolved: card payments work again since 03:12 UTC.")
    page.get_by_test_id("post-update").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("card payments work again since 03:12 UTC")
    expect(page.get_by_test_id("hint-final-update")).to_have_count(0)
    update = TimelineEvent.objects.get(incident=incident, kind="update_posted")
    assert update.data["status"] == "resolved"
    assert not errors, errors
