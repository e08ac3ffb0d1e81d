"""Responder comforts in a real Chromium: one long unbroken word (a URL pasted as a title, a note, a team name)
never widens a page, and the quick switcher opens an incident from the keyboard."""

import re

import pytest

from incidents import services
from teams.models import Service
from tests import test_browser
from tests.test_browser import PHONE, new_page, shot, sign_in

browser = test_browser.browser
people = test_browser.people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE_LAPTOP = {"width": 1366, "height": 900}
SMALL_LAPTOP = {"width": 1024, "height": 768}
#: A 200-character word: what a pasted URL looks like to the layout.
LONG_URL = ("https://status.example.com/checkout/errors?trace=" + "a1b2c3d4e5" * 20)[:200]


def long_words_incident(people):
    team = people["team"]
    team.name = "Payments" + "X" * 90  # one 98-character word
    team.save()
    service = Service.objects.create(team=team, name="svc" + "Y" * 90, slug="long-service")
    incident = services.incident_declare(
        title=LONG_URL,
        severity="critical",
        actor=people["dora"],
        team=team,
        services=[service],
        summary="See " + LONG_URL,
        lead=people["dora"],
    )
    services.incident_add_note(incident=incident, text="Tried " + LONG_URL, actor=people["dora"])
    services.incident_post_update(incident=incident, text=LONG_URL, actor=people["dora"])
    services.incident_update(incident=incident, actor=people["dora"], title=LONG_URL[:-1] + "Z")
    return incident


def page_width(page) -> dict:
    return page.evaluate(
        "() => ({scroll: document.scrollingElement.scrollWidth, viewport: window.innerWidth,"
        " body: document.body.scrollWidth})"
    )


def assert_within_viewport(page, url):
    page.goto(url)
    page.wait_for_load_state("load")
    width = page_width(page)
    # Nothing is cut off inside the page either (a card with overflow: hidden would hide a row's columns): no
    # element reaches past the right edge of the viewport.
    overflowing = page.evaluate(
        """() => Array.from(document.querySelectorAll('body *')).filter(el => {
             const r = el.getBoundingClientRect();
             return r.width > 0 && r.right > window.innerWidth + 1 && getComputedStyle(el).position !== 'fixed';
           }).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))
             .slice(0, 8)"""
    )
    if overflowing:
        shot(page, "overflow-" + re.sub(r"[^a-z0-9]+", "-", url.split("/", 3)[-1]) + str(width["viewport"]))
    assert width["scroll"] <= width["viewport"], (url, width, overflowing)
    assert not overflowing, (url, overflowing)


@pytest.mark.parametrize("viewport", [WIDE_LAPTOP, SMALL_LAPTOP, PHONE], ids=["1366px", "1024px", "390px"])
def test_a_200_character_word_keeps_every_page_within_the_viewport(browser, live_server, people, viewport):
    from playwright.sync_api import expect

    base = live_server.url
    incident = long_words_incident(people)
    errors: list[str] = []
    page = new_page(browser, viewport, errors)
    sign_in(page, base)
    for path in (
        "/",
        "/incidents/",
        f"/incidents/?q={LONG_URL[:30]}",
        f"/incidents/{incident.pk}/",
        f"/incidents/{incident.pk}/timeline/",
        "/teams/",
        f"/teams/{people['team'].slug}/",
        "/incidents/declare/",
        "/oncall/",
        f"/oncall/teams/{people['team'].slug}/",
        f"/notifications/incidents/{incident.pk}/messages/",
    ):
        assert_within_viewport(page, base + path)

    # The list row's columns are all on screen, inside the card (which would hide what overflows it).
    page.goto(base + "/incidents/")
    row = page.locator(f"tr[data-incident='{incident.pk}']")
    expect(row).to_be_visible()
    card = page.locator(".table-card").bounding_box()
    labels = ["Severity", "Status", "Lead", "Declared"]
    if viewport is PHONE:
        labels.append("Team")
    for label in labels:
        cell = row.locator(f"td[data-label='{label}']")
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box["width"] > 0, label
        assert box["x"] >= card["x"] - 1 and box["x"] + box["width"] <= card["x"] + card["width"] + 1, (
            label,
            box,
        )
        assert box["x"] + box["width"] <= viewport["width"], (label, box)
    expect(row.locator("td[data-label='Status']")).to_contain_text("Triage")
    shot(page, f"long-word-list-{viewport['width']}")
    page.goto(f"{base}/incidents/{incident.pk}/")
    shot(page, f"long-word-incident-{viewport['width']}")
    page.goto(f"{base}/incidents/{incident.pk}/timeline/")
    expect(page.get_by_test_id("back-to-incident")).to_be_visible()
    shot(page, f"long-word-timeline-{viewport['width']}")
    assert not errors, errors


def test_a_long_title_does_not_break_the_short_columns_mid_word(browser, live_server, people):
    """The title takes the width it needs, but "Payments" and "Dora Diaz" keep their words whole: wrapping
    anywhere in every cell let the short columns shrink to a few letters ("Paymen/ts")."""
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(
        title=LONG_URL, severity="critical", actor=people["dora"], team=people["team"], lead=people["dora"]
    )
    errors: list[str] = []
    page = new_page(browser, WIDE_LAPTOP, errors)
    sign_in(page, base)
    page.goto(base + "/incidents/")
    row = page.locator(f"tr[data-incident='{incident.pk}']")
    expect(row).to_be_visible()
    for label, text in (("Team", "Payments"), ("Lead", "Dora Diaz")):
        cell = row.locator(f"td[data-label='{label}']")
        expect(cell).to_contain_text(text)
        # Each word on one line: the text's lines, measured by the browser, never split a word.
        broken = cell.evaluate(
            """cell => {
                 const range = document.createRange();
                 const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
                 const split = [];
                 for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                   const re = /\\S+/g;
                   let m;
                   while ((m = re.exec(node.nodeValue))) {
                     range.setStart(node, m.index);
                     range.setEnd(node, m.index + m[0].length);
                     if (range.getClientRects().length > 1) split.push(m[0]);
                   }
                 }
                 return split;
               }"""
        )
        assert broken == [], (label, broken)
    assert not errors, errors


def test_the_quick_switcher_opens_an_incident_from_the_keyboard(browser, live_server, people):
    from playwright.sync_api import expect

    base = live_server.url
    dora = people["dora"]
    target = services.incident_declare(title="Checkout returns 502", severity="major", actor=dora)
    other = services.incident_declare(title="Search is slow for everyone", severity="minor", actor=dora)
    hidden = services.incident_declare(
        title="Search credentials leaked", severity="critical", actor=people["eve"], private=True
    )
    errors: list[str] = []
    page = new_page(browser, WIDE_LAPTOP, errors)
    sign_in(page, base)
    box = page.get_by_test_id("switcher-input")

    # "/" focuses the box from anywhere on the page; a number and Enter open that incident.
    page.locator("body").click()
    page.keyboard.press("/")
    expect(box).to_be_focused()
    page.keyboard.type(str(target.pk))
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/incidents/{target.pk}/")
    expect(page.get_by_test_id("incident-title")).to_have_text("Checkout returns 502")

    # Ctrl+K, then a title word: the matching incidents appear, not the private one Dora may not see.
    page.keyboard.press("Control+k")
    expect(box).to_be_focused()
    page.keyboard.type("search")
    options = page.get_by_test_id("switcher-list").locator("[role=option][data-incident]")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Search is slow for everyone")
    expect(options.first).to_contain_text(other.reference)
    expect(page.get_by_test_id("switcher-list")).not_to_contain_text(hidden.title)
    width = page_width(page)
    assert width["scroll"] <= width["viewport"], width  # the open list fits the page
    # Escape closes the suggestions; typing again and Enter opens the highlighted one.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("switcher-list")).to_be_hidden()
    page.keyboard.type(" slow")
    expect(page.get_by_test_id("switcher-list")).to_be_visible()
    expect(options.first).to_contain_text("Search is slow for everyone")
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/incidents/{other.pk}/")

    # "/" typed into a form field is just a character.
    page.focus("#note-text")
    page.keyboard.type("a/b")
    expect(page.locator("#note-text")).to_have_value("a/b")
    expect(box).not_to_be_focused()
    assert not errors, errors


def test_the_quick_switcher_works_without_javascript(browser, live_server, people):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(title="Checkout returns 502", severity="major", actor=people["dora"])
    context = browser.new_context(viewport=WIDE_LAPTOP, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, base)
    page.get_by_test_id("switcher-input").fill(incident.reference)
    page.get_by_test_id("switcher-input").press("Enter")
    expect(page).to_have_url(f"{base}/incidents/{incident.pk}/")
    page.get_by_test_id("switcher-input").fill("checkout")
    page.get_by_test_id("switcher-input").press("Enter")
    expect(page).to_have_url(re.compile(r".*/incidents/\?q=checkout$"))
    expect(page.locator(f"tr[data-incident='{incident.pk}']")).to_be_visible()
    context.close()


@pytest.mark.parametrize("viewport", [SMALL_LAPTOP, PHONE], ids=["1024px", "390px"])
def test_the_quick_switcher_fits_a_narrow_screen(browser, live_server, people, viewport):
    from playwright.sync_api import expect

    base = live_server.url
    incident = services.incident_declare(title=LONG_URL, severity="major", actor=people["dora"])
    errors: list[str] = []
    page = new_page(browser, viewport, errors)
    sign_in(page, base)
    box = page.get_by_test_id("switcher-input")
    box.click()
    expect(box).to_be_focused()
    page.keyboard.type("status.example")
    option = page.get_by_test_id("switcher-list").locator(f"[data-incident='{incident.pk}']")
    expect(option).to_be_visible()
    width = page_width(page)
    assert width["scroll"] <= width["viewport"], width
    list_box = page.get_by_test_id("switcher-list").bounding_box()
    assert list_box["x"] >= 0 and list_box["x"] + list_box["width"] <= viewport["width"], list_box
    option.click()
    expect(page).to_have_url(f"{base}/incidents/{incident.pk}/")
    assert not errors, errors
