"""The messenger publishes from the incident page in a real Chromium: the Identified wording prefilled, the warning
for an internal hostname, the public page showing the update signed out, and Resolved published next.

Kept in tests/ beside the other browser tests, so that it runs before the worker tests: their clean-up ends the
database sessions left by killed workers, and a browser test run after them failed at setup on a terminated
connection."""

import pytest

from incidents import services as incident_services
from statuspage import services
from statuspage.models import PublicIncident
from tests import test_browser
from tests.test_browser import LAPTOP, new_page, sign_in

browser = test_browser.browser
people = test_browser.people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_messenger_publishes_identified_then_resolved(browser, live_server, people):
    from playwright.sync_api import expect

    from tests.factories import AdminFactory

    base = live_server.url
    admin = AdminFactory(username="root")
    status_page = services.status_page_create(
        actor=admin, name="Acme", slug="acme", is_default=True, support_email="support@example.com"
    )
    api = services.component_create(actor=admin, page=status_page, name="API")
    incident = incident_services.incident_declare(
        title="Checkout returns 502",
        severity="critical",
        actor=people["dora"],
        team=people["team"],
        customer_impact=True,
    )
    errors: list[str] = []
    # The public page has no favicon, so a visitor's browser logs the 404 of /favicon.ico; only the messenger's
    # page must be free of errors.
    visitor_errors: list[str] = []
    page = new_page(browser, LAPTOP, errors)
    sign_in(page, base)
    page.goto(f"{base}/incidents/{incident.pk}/")
    body = page.get_by_test_id("statuspage-body")
    expect(body).to_have_value(
        "We are aware there is an issue with some of our services. We are investigating a resolution. "
        "If you have any questions, email support@example.com."
    )
    page.get_by_test_id("statuspage-name").fill("Checkout errors")
    body.fill("We are aware there is an issue with the API: db-3.prod.internal is overloaded.")
    page.get_by_test_id(f"statuspage-component-{api.code}").select_option("major_outage")
    page.get_by_test_id("statuspage-submit").click()

    findings = page.get_by_test_id("statuspage-findings")
    expect(findings).to_contain_text("internal hostname db-3.prod.internal")
    assert not PublicIncident.objects.exists()
    page.get_by_test_id("statuspage-body").fill("We are aware there is an issue with the API.")
    page.get_by_test_id("statuspage-confirm").check()
    page.get_by_test_id("statuspage-submit").click()
    # The text changed after the check, so it is checked again: clean now, it is published.
    expect(page.get_by_test_id("statuspage-last")).to_contain_text(
        "We are aware there is an issue with the API."
    )
    expect(page.get_by_test_id("timeline")).to_contain_text("published Identified to the status page Acme")

    public = new_page(browser, LAPTOP, visitor_errors)
    public.goto(f"{base}/status/")
    expect(public.locator("body")).to_contain_text("Checkout errors")
    expect(public.locator("body")).to_contain_text("We are aware there is an issue with the API.")
    expect(public.locator("body")).not_to_contain_text("Dora")

    page.get_by_test_id("statuspage-status").select_option("resolved")
    page.get_by_test_id("statuspage-body").fill("We have resolved the issue with the API.")
    page.get_by_test_id("statuspage-submit").click()
    expect(page.get_by_test_id("statuspage-last")).to_contain_text("Resolved")
    # A new visitor (the first one's browser may keep the page its max-age allows).
    public = new_page(browser, LAPTOP, visitor_errors)
    public.goto(f"{base}/status/")
    expect(public.locator("body")).to_contain_text("We have resolved the issue with the API.")
    assert PublicIncident.objects.get().status == "resolved"
    assert not errors, errors
