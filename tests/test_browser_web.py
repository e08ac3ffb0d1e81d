"""The web UI's comforts in a real Chromium: Back never shows a stale incident page, one declare per intent, long
words wrap, the quick switcher's shortcut."""

import pytest

from incidents import services
from incidents.models import Incident
from tests import test_browser
from tests.test_browser import LAPTOP, new_page, sign_in

# The walk-through's fixtures: a Chromium (skipped when Debian's package is missing) and Dora and Eve of Payments.
browser = test_browser.browser
people = test_browser.people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_back_after_resolving_shows_the_current_incident_not_the_cached_one(browser, live_server, people):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title="Checkout returns 502", severity="critical", actor=people["dora"], team=people["team"]
    )
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base)
    page.goto(f"{base}/incidents/{incident.pk}/")
    expect(page.get_by_test_id("to-investigating")).to_be_visible()
    page.get_by_test_id("to-resolved").click()
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Resolved")

    page.goto(f"{base}/incidents/")
    expect(page.locator(f"tr[data-incident='{incident.pk}']")).to_contain_text("Resolved")
    page.go_back()
    page.wait_for_url(f"{base}/incidents/{incident.pk}/")

    # The page shown is the current one: resolved, with no triage buttons of the state before.
    expect(page.locator("[data-testid=status] .pill")).to_have_text("Resolved")
    expect(page.get_by_test_id("to-resolved")).to_have_count(0)
    expect(page.get_by_test_id("to-declined")).to_have_count(0)
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    assert not errors, errors
