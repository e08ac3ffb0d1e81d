"""The web UI's comforts in a real Chromium: Back never shows a stale incident page, one declare per intent, long
words wrap, the quick switcher's shortcut."""

import re

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


def declared_titled(title):
    return Incident.objects.filter(title=title).count()


def slow_network(page, latency_ms=400):
    """A flaky network: each answer takes ``latency_ms``, so a second click lands while the first is on its way."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def declare_posts(page) -> list:
    posts: list = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" and "/declare/" in r.url else None)
    return posts


def test_a_double_enter_on_declare_makes_one_incident(browser, live_server, people):
    from playwright.sync_api import expect

    base = live_server.url
    errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base)
    page.goto(f"{base}/incidents/declare/")
    page.locator("label.severity-card", has_text="Critical").click()
    page.fill("#id_title", "Checkout returns 502")
    page.focus("#id_title")
    slow_network(page)
    posts = declare_posts(page)
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))
    expect(page.get_by_test_id("incident-title")).to_have_text("Checkout returns 502")
    page.wait_for_timeout(500)  # a second request, had one been sent, has landed by now
    assert declared_titled("Checkout returns 502") == 1
    assert len(posts) == 1  # the second Enter sent nothing: the button was disabled on submit
    assert not errors, errors


def test_two_clicks_on_declare_make_one_incident_even_without_javascript(browser, live_server, people):
    """Without JavaScript nothing stops the second click: the form's token does, on the server."""
    from playwright.sync_api import expect

    base = live_server.url
    context = browser.new_context(viewport=LAPTOP, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, base)
    page.goto(f"{base}/incidents/declare/")
    page.fill("#id_title", "Search is slow")
    page.locator("label.severity-card", has_text="Critical").click()
    slow_network(page)
    posts = declare_posts(page)
    box = page.get_by_test_id("declare-submit").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)  # the mouse does not wait for the navigation the click starts
    page.wait_for_timeout(100)
    page.mouse.click(x, y)
    # The second click aborts the first navigation (the browser follows the last submit), so wait
    # for where the page ends up rather than for one navigation, which may be the aborted one.
    expect(page).to_have_url(re.compile(r".*/incidents/\d+/$"), timeout=15_000)
    expect(page.get_by_test_id("incident-title")).to_have_text("Search is slow")
    page.wait_for_timeout(500)
    assert len(posts) == 2  # both clicks were sent...
    assert declared_titled("Search is slow") == 1  # ...and made one incident
    context.close()
