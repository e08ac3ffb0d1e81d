"""The staff web UI of the outbox: an incident's messages, resending a dead one, and the delivery health page.

Views are entrances: visibility and the right to act come from ``incidents.permissions`` (a message is as visible
as its incident: a private incident's messages are a 404 to those who may not see it), reads from
``notifications.selectors``, the one write from ``notifications.services.message_resend``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, NotFound
from core.views import safe_next_url
from incidents import permissions
from incidents import selectors as incident_selectors
from notifications import selectors, services
from notifications.models import Message
from notifications.permissions import can_resend

PAGE_SIZE = 50
RESENDABLE = (Message.Status.DEAD, Message.Status.FAILED)


@login_required
@require_GET
def incident_messages(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        incident = incident_selectors.incident_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404("No such incident.") from None
    status = request.GET.get("status") or ""
    if status not in Message.Status.values:
        status = ""
    paginator = Paginator(selectors.message_list(incident_id=incident.pk, status=status or None), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    counts = selectors.message_counts(incident_id=incident.pk)
    return render(
        request,
        "notifications/web/incident_messages.html",
        {
            "incident": incident,
            "page": page,
            "paginator": paginator,
            "counts": counts,
            "status": status,
            "statuses": Message.Status.choices,
            "can_act": permissions.can_act(request.user, incident),
            "resendable": RESENDABLE,
        },
    )


@login_required
@require_POST
def message_resend(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        message = selectors.message_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404("No such message.") from None
    if not can_resend(request.user, message):
        raise PermissionDenied("Only those who can act on the incident can resend its messages.")
    try:
        services.message_resend(message=message, actor=request.user)
    except NotFound:
        raise Http404("No such message.") from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Message to {message.target} queued for delivery again.")
    return redirect(_back(request, message))


def _back(request: HttpRequest, message: Message) -> str:
    if message.incident_id:
        return safe_next_url(request, reverse("notifications:incident_messages", args=[message.incident_id]))
    return safe_next_url(request, reverse("notifications:health"))


@login_required
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_staff and request.user.is_active):
        raise PermissionDenied("The delivery health page is for staff.")
    report = selectors.delivery_health_report(user=request.user)
    return render(request, "notifications/web/health.html", {**report, "resendable": RESENDABLE})
