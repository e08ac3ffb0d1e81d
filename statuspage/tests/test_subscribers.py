"""Email subscribers: sign-up mails a confirm link (double opt-in), the link confirms, every later mail carries a
one-click unsubscribe link and the List-Unsubscribe headers, the unsubscribe link works by GET-then-POST and by
an RFC 8058 one-click POST; the form does not tell who is subscribed, cannot flood a mailbox, answers bad input
with a 4xx, and an internal page's forms are 404 signed out. One test reads the mail at a real SMTP peer."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from statuspage import services
from statuspage.models import StatusPage, Subscriber
from statuspage.subscribers import subscriber_mail, subscribers_to_notify
from tests.factories import UserFactory

LINK = re.compile(r"http://testserver(/status/[\w-]+/(?:confirm|unsubscribe)/[\w-]+/)")


@pytest.fixture
def admin(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def page(admin, settings):
    settings.SITE_URL = "http://testserver"
    return services.status_page_create(actor=admin, name="Acme", slug="acme")


@pytest.fixture
def api(admin, page):
    return services.component_create(actor=admin, page=page, name="API")


@pytest.fixture
def portal(admin, page):
    return services.component_create(actor=admin, page=page, name="Portal")


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def sign_up(client, email, components=(), slug="acme"):
    """Fill in the form as a browser does: GET it for the CSRF token, then POST it."""
    form = client.get(f"/status/{slug}/subscribe/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    data = {"email": email, "csrfmiddlewaretoken": token}
    if components:
        data["components"] = [c.pk for c in components]
    return client.post(f"/status/{slug}/subscribe/", data)


def links(mail) -> list[str]:
    return LINK.findall(mail.body)


def confirm_by_mail(client, mail) -> Subscriber:
    (path,) = links(mail)
    assert "/confirm/" in path
    page = client.get(path)
    assert page.status_code == 200 and "Confirm subscription" in page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    done = client.post(path, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200 and "You are subscribed" in done.content.decode()
    return Subscriber.objects.get(token=path.rstrip("/").rsplit("/", 1)[1])


def test_the_public_page_links_to_the_form(client, page):
    assert 'href="/status/acme/subscribe/"' in client.get("/status/acme/").content.decode()
    form = client.get("/status/acme/subscribe/")
    assert form["Cache-Control"].startswith("max-age=0") and "no-store" in form["Cache-Control"]
    assert "form-action 'self'" in form["Content-Security-Policy"]
    assert "/admin/" not in form.content.decode() and "<script" not in form.content.decode()


def test_sign_up_mails_a_confirm_link_and_following_it_confirms(
    csrf_client, page, api, portal, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_up(csrf_client, "Ops@Example.COM", [api])
    assert response.status_code == 200 and "Check your email" in response.content.decode()
    (mail,) = mailoutbox
    assert mail.to == ["ops@example.com"]
    assert "Confirm" in mail.subject and "API" in mail.body
    subscriber = Subscriber.objects.get()
    assert subscriber.confirmed_at is None
    assert list(subscribers_to_notify(page, [api])) == []  # pending: nothing until confirmed

    subscriber = confirm_by_mail(csrf_client, mail)
    assert subscriber.confirmed_at is not None and subscriber.is_active
    assert list(subscribers_to_notify(page, [api])) == [subscriber]
    assert list(subscribers_to_notify(page, [portal])) == []  # chose the API only


def test_confirm_post_needs_csrf(csrf_client, page, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(csrf_client, "a@example.com")
    (path,) = links(mailoutbox[0])
    assert Client(enforce_csrf_checks=True).post(path).status_code == 403
    assert Subscriber.objects.get().confirmed_at is None


def test_subscribers_to_notify_all_components_and_filters(page, api, portal):
    now = timezone.now()
    everything = Subscriber.objects.create(page=page, email="all@example.com", confirmed_at=now)
    api_only = Subscriber.objects.create(page=page, email="api@example.com", confirmed_at=now)
    api_only.components.set([api])
    both = Subscriber.objects.create(page=page, email="both@example.com", confirmed_at=now)
    both.components.set([api, portal])
    Subscriber.objects.create(page=page, email="pending@example.com")
    Subscriber.objects.create(page=page, email="gone@example.com", confirmed_at=now, unsubscribed_at=now)
    other = StatusPage.objects.create(name="Other", slug="other")
    Subscriber.objects.create(page=other, email="other@example.com", confirmed_at=now)

    assert list(subscribers_to_notify(page, [api])) == [everything, api_only, both]
    assert list(subscribers_to_notify(page, [portal, api])) == [everything, api_only, both]
    assert list(subscribers_to_notify(page, [portal])) == [everything, both]
    assert list(subscribers_to_notify(page, [])) == [everything]


def test_every_later_mail_carries_the_one_click_unsubscribe_link_and_headers(page):
    subscriber = Subscriber.objects.create(page=page, email="a@example.com", confirmed_at=timezone.now())
    mail = subscriber_mail(subscriber, subject="Elevated API errors", text="Investigating.", html="<p>Hi</p>")
    url = f"http://testserver/status/acme/unsubscribe/{subscriber.token}/"
    message = mail.message()
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in mail.body
    assert url in mail.alternatives[0][0]
    assert len(subscriber.token) >= 40


def test_unsubscribe_get_shows_a_button_and_post_unsubscribes(page, api):
    subscriber = Subscriber.objects.create(page=page, email="a@example.com", confirmed_at=timezone.now())
    path = f"/status/acme/unsubscribe/{subscriber.token}/"
    client = Client(enforce_csrf_checks=True)
    shown = client.get(path)
    assert shown.status_code == 200 and "<button" in shown.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None  # a GET (a link scanner) changes nothing
    done = client.post(path)  # the page's own button: no CSRF token needed for this URL
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert list(subscribers_to_notify(page, [api])) == []


def test_rfc8058_one_click_post_unsubscribes_without_a_session(page):
    subscriber = Subscriber.objects.create(page=page, email="a@example.com", confirmed_at=timezone.now())
    response = Client(enforce_csrf_checks=True).post(
        f"/status/acme/unsubscribe/{subscriber.token}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 500])
def test_unknown_token_is_404(client, page, token):
    assert client.post(f"/status/acme/unsubscribe/{token}/").status_code == 404
    assert client.get(f"/status/acme/confirm/{token}/").status_code == 404


def test_token_of_another_page_is_404(client, admin, page):
    other = services.status_page_create(actor=admin, name="Other", slug="other")
    subscriber = Subscriber.objects.create(page=other, email="a@example.com", confirmed_at=timezone.now())
    assert client.post(f"/status/acme/unsubscribe/{subscriber.token}/").status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None


def test_sign_up_does_not_tell_whether_an_address_is_subscribed(
    csrf_client, page, mailoutbox, django_capture_on_commit_callbacks
):
    Subscriber.objects.create(page=page, email="known@example.com", confirmed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        known = sign_up(csrf_client, "known@example.com")
        new = sign_up(csrf_client, "new@example.com")
    assert known.status_code == new.status_code == 200
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub("", known.content.decode()) == strip.sub("", new.content.decode())
    assert [m.to for m in mailoutbox] == [["new@example.com"]]  # the subscribed address is not mailed again


def test_at_most_one_confirm_mail_per_address_per_ten_minutes(
    csrf_client, page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            assert sign_up(csrf_client, "flood@example.com").status_code == 200
        assert sign_up(csrf_client, "FLOOD@Example.com").status_code == 200  # nor by changing the case
    assert len(mailoutbox) == 1
    Subscriber.objects.update(confirmation_sent_at=timezone.now() - timedelta(minutes=11))
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(csrf_client, "flood@example.com")
    assert len(mailoutbox) == 2
    assert links(mailoutbox[0]) == links(mailoutbox[1])  # the same pending subscription, not a new row
    assert Subscriber.objects.count() == 1


def test_unsubscribed_address_can_sign_up_again(
    csrf_client, page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(csrf_client, "back@example.com")
    subscriber = confirm_by_mail(csrf_client, mailoutbox[0])
    assert csrf_client.post(f"/status/acme/unsubscribe/{subscriber.token}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(csrf_client, "back@example.com")
    assert len(mailoutbox) == 2
    subscriber.refresh_from_db()
    assert not subscriber.is_active  # still out until the new link is followed
    assert confirm_by_mail(csrf_client, mailoutbox[1]).is_active


@pytest.mark.parametrize(
    "email", ["", "not-an-email", "a@b@c", "x" * 300 + "@example.com", "a\n@example.com"]
)
def test_invalid_email_is_a_form_error(csrf_client, page, mailoutbox, email):
    response = sign_up(csrf_client, email)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert mailoutbox == [] and Subscriber.objects.count() == 0


def test_component_of_another_page_is_a_form_error(csrf_client, admin, page, mailoutbox):
    other = services.status_page_create(actor=admin, name="Other", slug="other")
    foreign = services.component_create(actor=admin, page=other, name="Theirs")
    assert sign_up(csrf_client, "a@example.com", [foreign]).status_code == 400
    assert Subscriber.objects.count() == 0


def test_sign_up_needs_csrf(page, mailoutbox):
    response = Client(enforce_csrf_checks=True).post("/status/acme/subscribe/", {"email": "a@example.com"})
    assert response.status_code == 403
    assert Subscriber.objects.count() == 0


def test_unknown_page_and_bad_method(client, page):
    assert client.get("/status/nope/subscribe/").status_code == 404
    assert client.put("/status/acme/subscribe/").status_code == 405


def test_internal_page_forms_are_404_signed_out(client, admin, mailoutbox):
    services.status_page_create(actor=admin, name="Ops", slug="ops", visibility="internal")
    subscriber = Subscriber.objects.create(
        page=StatusPage.objects.get(slug="ops"), email="a@example.com", confirmed_at=timezone.now()
    )
    hidden = client.get("/status/ops/subscribe/")
    assert hidden.status_code == 404 and "No such status page" in hidden.content.decode()
    assert "/admin/" not in hidden.content.decode()  # the public page's plain 404, no staff navigation
    assert client.post("/status/ops/subscribe/", {"email": "a@example.com"}).status_code == 404
    assert client.get(f"/status/ops/confirm/{subscriber.token}/").status_code == 404
    assert client.post(f"/status/ops/unsubscribe/{subscriber.token}/").status_code == 404
    client.force_login(admin)
    assert client.get("/status/ops/subscribe/").status_code == 200


def _text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def test_double_opt_in_and_one_click_unsubscribe_through_a_real_smtp_peer(
    smtp_peer, page, api, django_capture_on_commit_callbacks
):
    from tests.peers import wait_for

    client = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert sign_up(client, "reader@example.com").status_code == 200
    assert wait_for(lambda: len(smtp_peer.received()) == 1)
    (confirmation,) = smtp_peer.received()
    assert confirmation["X-Peer-Rcpt"] == "reader@example.com"
    (path,) = LINK.findall(_text(confirmation))
    page_html = client.get(path).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page_html).group(1)
    assert client.post(path, {"csrfmiddlewaretoken": token}).status_code == 200
    (subscriber,) = subscribers_to_notify(page, [api])

    subscriber_mail(subscriber, subject="Elevated API errors", text="We are investigating.").send()
    assert wait_for(lambda: len(smtp_peer.received()) == 2)
    update = smtp_peer.received()[1]
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header_url = re.search(r"<([^>]+)>", update["List-Unsubscribe"]).group(1)  # the header may be folded
    assert header_url in _text(update)
    # What a mail client does on "Unsubscribe": one POST to the header's URL, no cookie, no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        header_url.removeprefix("http://testserver"),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert list(subscribers_to_notify(page, [api])) == []


def test_admin_lists_subscribers_to_administrators_only_and_unsubscribes_them(client, admin, page):
    from django.urls import reverse

    subscriber = Subscriber.objects.create(page=page, email="listed@example.com", confirmed_at=timezone.now())
    changelist = reverse("admin:statuspage_subscriber_changelist")
    staff = UserFactory(username="staffer", is_staff=True)
    client.force_login(staff)
    assert client.get(changelist).status_code == 403
    client.force_login(admin)
    assert "listed@example.com" in client.get(changelist).content.decode()
    assert client.get(reverse("admin:statuspage_subscriber_add")).status_code == 403
    response = client.post(changelist, {"action": "unsubscribe", "_selected_action": [subscriber.pk]})
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
