"""The RSS 2.0 and Atom feeds of a page's incidents and updates: well-formed XML that a real feed parser reads as
RSS 2.0 and Atom, escaped by construction, never a private incident, and cached like the page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser
import pytest

from statuspage import services
from statuspage.tests.helpers import INTERNAL_NOTE, PRIVATE_TITLE, build_world
from tests.factories import IncidentFactory

NASTY = "<script>alert(1)</script> & ]]> done"
ATOM_NS = "{http://www.w3.org/2005/Atom}"
FEEDS = {"history.rss": ("application/rss+xml; charset=utf-8", "rss20"), "history.atom": (
    "application/atom+xml; charset=utf-8", "atom10")}  # fmt: skip


@pytest.fixture
def world(db):
    return build_world()


def parsed(response):
    result = feedparser.parse(response.content)
    assert not result.bozo, result.get("bozo_exception")
    return result


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_feed_parses_with_a_real_parser(client, world, name):
    content_type, version = FEEDS[name]
    response = client.get(f"/status/acme/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    ET.fromstring(response.content)  # well-formed XML
    feed = parsed(response)
    assert feed.version == version
    assert feed.feed.title == "Acme status"
    assert feed.feed.link == "http://testserver/status/acme/" or feed.feed.link.endswith("/status/acme/")
    titles = [e.title for e in feed.entries]  # newest first, maintenances too
    assert titles == [
        "Web tier recycle",
        "Network maintenance",
        "Portal display glitch",
        "Elevated API errors",
    ]
    assert (
        "Scheduled " in feed.entries[1].summary and "Routine network maintenance" in feed.entries[1].summary
    )
    open_incident = feed.entries[3]
    assert open_incident.link.endswith(f"/status/acme/#incident-{world.open_incident.code}")
    assert open_incident.id
    assert "We are aware there is an issue with the API." in open_incident.summary
    assert "We are investigating elevated error rates on the API." in open_incident.summary
    assert "Identified" in open_incident.summary and "UTC" in open_incident.summary
    assert open_incident.get("published_parsed") or open_incident.get("updated_parsed")


def test_the_rss_feed_is_rss_2_and_the_atom_feed_is_atom(client, world):
    rss = ET.fromstring(client.get("/status/acme/history.rss").content)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    assert len(rss.findall("./channel/item")) == 4
    assert all(item.find("guid").get("isPermaLink") == "false" for item in rss.iter("item"))
    atom = ET.fromstring(client.get("/status/acme/history.atom").content)
    assert atom.tag == f"{ATOM_NS}feed"
    assert len(atom.findall(f"{ATOM_NS}entry")) == 4
    assert all(e.find(f"{ATOM_NS}id").text for e in atom.findall(f"{ATOM_NS}entry"))


def test_the_default_pages_feeds(client, world):
    for name in FEEDS:
        assert client.get(f"/status/{name}").content == client.get(f"/status/acme/{name}").content


def test_feeds_escape_titles_and_bodies(client, world):
    services.public_incident_create(
        actor=world.admin, page=world.page, name=f"Title {NASTY}", body=f"Body {NASTY}",
    )  # fmt: skip
    for name in FEEDS:
        response = client.get(f"/status/acme/{name}")
        raw = response.content.decode()
        assert "<script>" not in raw and "]]>" not in raw
        root = ET.fromstring(response.content)  # still well-formed
        texts = "".join(root.itertext())
        assert f"Title {NASTY}" in texts  # the title round-trips as text
        assert (
            "Body &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; done" in texts
        )  # HTML-escaped in the HTML
        entry = parsed(response).entries[0]
        assert entry.title == f"Title {NASTY}"


def test_private_incidents_and_internal_notes_never_reach_a_feed(client, world):
    IncidentFactory(title=PRIVATE_TITLE, private=True)
    later = services.public_incident_create(
        actor=world.admin, page=world.page, incident=IncidentFactory(title="Soon secret"),
        name="Login trouble", body="Some people cannot sign in.",
    )  # fmt: skip
    type(world.incident).objects.filter(pk=later.incident_id).update(private=True)
    for name in FEEDS:
        raw = client.get(f"/status/acme/{name}").content.decode()
        assert "Elevated API errors" in raw
        assert "Login trouble" not in raw and later.code not in raw and PRIVATE_TITLE not in raw
        assert INTERNAL_NOTE not in raw and "Checkout latency" not in raw and "corp.internal" not in raw


def test_feeds_are_cached_with_etags_and_show_a_change_at_once(
    client, world, django_assert_num_queries, django_capture_on_commit_callbacks
):
    first = {name: client.get(f"/status/acme/{name}") for name in FEEDS}
    for name, response in first.items():
        assert response["Cache-Control"].startswith("public, max-age=")
        with django_assert_num_queries(0):
            warm = client.get(f"/status/acme/{name}")
            again = client.get(f"/status/acme/{name}", headers={"if-none-match": response["ETag"]})
        assert warm.content == response.content
        assert again.status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        services.public_update_publish(
            actor=world.admin, public_incident=world.open_incident, status="resolved", body="All better now."
        )
    for name in FEEDS:
        response = client.get(f"/status/acme/{name}")
        assert response["ETag"] != first[name]["ETag"]
        assert "All better now." in parsed(response).entries[-1].summary  # the oldest entry
