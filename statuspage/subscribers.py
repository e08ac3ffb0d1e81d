"""Email subscribers of a status page: sign-up with double opt-in, confirm, one-click unsubscribe.

- ``/status/<slug>/subscribe/`` is a form of its own (with CSRF), never part of the cached page. Whatever the
  address (new, pending, confirmed, unsubscribed), the answer is the same page, so the form does not tell who is
  subscribed. A pending or unsubscribed address is sent a confirm link, at most one per address and page per
  ``SUBSCRIBER_CONFIRM_INTERVAL`` (10 minutes): the form cannot flood a mailbox. A confirmed address gets nothing
  (its choice of components is only changed by unsubscribing and signing up again, through the link).
- ``/status/<slug>/confirm/<token>/``: GET shows a button, POST confirms (a mail scanner that fetches links does
  not confirm for the owner).
- ``/status/<slug>/unsubscribe/<token>/``: GET shows a button, POST unsubscribes. The POST needs no CSRF token
  (RFC 8058 one-click: the mail client POSTs ``List-Unsubscribe=One-Click``); the token is the credential.
- ``subscriber_mail`` builds every mail after the confirmation: a one-click unsubscribe link in its text and HTML
  and the ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers. ``subscribers_to_notify`` is whom publishing
  mails.

An internal page's forms are for signed-in people only: 404 to anyone else, like the page.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.db import atomic
from statuspage import public, selectors
from statuspage.api.render import page_url
from statuspage.api.views import SLUG_MAX
from statuspage.models import Component, StatusPage, Subscriber

log = logging.getLogger(__name__)

CONFIRM_INTERVAL = timedelta(minutes=10)
TOKEN_MAX = 64
FORM_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"


# --- Services ---------------------------------------------------------------------------------------------------


def _normalize(email: str) -> str:
    """Lower-cased whole: ``Ops@`` and ``oPs@`` are one subscriber, so changing the case does not beat the throttle."""
    return email.strip().lower()


def _link(page: StatusPage, kind: str, token: str) -> str:
    return f"{page_url(page)}{kind}/{token}/"


def unsubscribe_url(subscriber: Subscriber) -> str:
    return _link(subscriber.page, "unsubscribe", subscriber.token)


def confirm_url(subscriber: Subscriber) -> str:
    return _link(subscriber.page, "confirm", subscriber.token)


def _send(mail: EmailMultiAlternatives) -> None:
    try:
        mail.send()
    except Exception:  # a mail server down must not turn the sign-up into a 500; the user can sign up again
        log.exception("Could not send a status page subscriber mail to %s", mail.to)


@atomic
def subscriber_sign_up(*, page: StatusPage, email: str, components=()) -> Subscriber:
    """Record a sign-up and, after the commit, mail the confirm link (throttled). Same outcome for every address."""
    email = _normalize(email)
    chosen = [c for c in components if c.page_id == page.pk]
    now = timezone.now()
    subscriber, _ = Subscriber.objects.select_for_update(of=("self",)).get_or_create(page=page, email=email)
    if subscriber.is_active:
        return subscriber
    if subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < CONFIRM_INTERVAL:
        return subscriber
    subscriber.components.set(chosen)
    subscriber.confirmation_sent_at = now
    subscriber.save(update_fields=["confirmation_sent_at"])
    mail = _confirmation_mail(subscriber)
    transaction.on_commit(lambda: _send(mail))
    return subscriber


def _confirmation_mail(subscriber: Subscriber) -> EmailMultiAlternatives:
    context = {"page": subscriber.page, "url": confirm_url(subscriber), "components": _names(subscriber)}
    mail = EmailMultiAlternatives(
        subject=f"Confirm your subscription to {subscriber.page.name} status",
        body=render_to_string("statuspage/email/confirm.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
    )
    mail.attach_alternative(render_to_string("statuspage/email/confirm.html", context), "text/html")
    return mail


def _names(subscriber: Subscriber) -> list[str]:
    return [c.name for c in subscriber.components.order_by("position", "name")]


@atomic
def subscriber_confirm(*, subscriber: Subscriber) -> Subscriber:
    subscriber = Subscriber.objects.select_for_update(of=("self",)).get(pk=subscriber.pk)
    if not subscriber.is_active:
        subscriber.confirmed_at = timezone.now()
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["confirmed_at", "unsubscribed_at"])
    return subscriber


@atomic
def subscriber_unsubscribe(*, subscriber: Subscriber) -> Subscriber:
    subscriber = Subscriber.objects.select_for_update(of=("self",)).get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = timezone.now()
        subscriber.confirmation_sent_at = None  # signing up again sends a new confirm link at once
        subscriber.save(update_fields=["unsubscribed_at", "confirmation_sent_at"])
    return subscriber


def subscribers_to_notify(page: StatusPage, components=()) -> QuerySet[Subscriber]:
    """The confirmed, not unsubscribed subscribers of the page who chose any of these components or all of them."""
    ids = [c.pk if isinstance(c, Component) else c for c in components]
    active = Subscriber.objects.filter(page=page, confirmed_at__isnull=False, unsubscribed_at__isnull=True)
    interested = Q(components__isnull=True)
    if ids:
        interested |= Q(components__in=ids)
    return active.filter(interested).distinct().order_by("email")


def subscriber_mail(
    subscriber: Subscriber, *, subject: str, text: str, html: str = ""
) -> EmailMultiAlternatives:
    """A mail to a subscriber with the one-click unsubscribe link in its body and headers (RFC 2369, RFC 8058)."""
    url = unsubscribe_url(subscriber)
    context = {"page": subscriber.page, "url": url}
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text.rstrip() + "\n\n" + render_to_string("statuspage/email/footer.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    if html:
        mail.attach_alternative(html + render_to_string("statuspage/email/footer.html", context), "text/html")
    return mail


# --- Views ------------------------------------------------------------------------------------------------------


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254)
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Choose none to hear about every component.",
    )

    def __init__(self, *args, page: StatusPage, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = page.components.order_by("position", "name")


class _NotFound(Exception):
    """No such page (or not for this visitor), or no such token: the public page's own plain 404, no staff
    navigation."""


def _public_404(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _NotFound:
            return public._not_found()

    return wrapped


def _page_or_404(request, slug: str) -> StatusPage:
    page = selectors.page_get(slug=slug) if len(slug) <= SLUG_MAX else None
    if page is None or (not page.is_public and not request.user.is_authenticated):
        raise _NotFound
    return page


def _subscriber_or_404(request, slug: str, token: str) -> Subscriber:
    page = _page_or_404(request, slug)
    found = Subscriber.objects.filter(page=page, token=token).first() if len(token) <= TOKEN_MAX else None
    if found is None:
        raise _NotFound
    return found


def _answer(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, f"statuspage/{template}", context, status=status)
    response["Content-Security-Policy"] = FORM_CSP
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@_public_404
def subscribe(request, slug: str):
    page = _page_or_404(request, slug)
    if request.method != "POST":
        return _answer(request, "subscribe.html", {"page": page, "form": SubscribeForm(page=page)})
    form = SubscribeForm(request.POST, page=page)
    if not form.is_valid():
        return _answer(request, "subscribe.html", {"page": page, "form": form}, status=400)
    data = form.cleaned_data
    subscriber_sign_up(page=page, email=data["email"], components=data["components"])
    return _answer(request, "subscribe_sent.html", {"page": page})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@_public_404
def confirm(request, slug: str, token: str):
    subscriber = _subscriber_or_404(request, slug, token)
    if request.method == "POST":
        subscriber = subscriber_confirm(subscriber=subscriber)
        return _answer(request, "subscribe_done.html", {"page": subscriber.page, "confirmed": True})
    context = {"page": subscriber.page, "names": _names(subscriber), "active": subscriber.is_active}
    return _answer(request, "subscribe_confirm.html", context)


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs without a session; the token is the credential
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@_public_404
def unsubscribe(request, slug: str, token: str):
    subscriber = _subscriber_or_404(request, slug, token)
    if request.method == "POST":
        subscriber = subscriber_unsubscribe(subscriber=subscriber)
        return _answer(request, "subscribe_done.html", {"page": subscriber.page, "confirmed": False})
    return _answer(request, "unsubscribe.html", {"page": subscriber.page, "subscriber": subscriber})
