"""Notifications API: an incident's messages, resending a dead one, and the delivery health report.

A message is as visible as its incident: a private incident's messages answer 404 to whoever may not see it,
exactly like an id that does not exist. Resending calls ``notifications.services.message_resend``.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from core.api.pagination import DefaultCursorPagination
from core.api.schema import error_responses
from core.api.serializers import validated
from core.api.views import ApiView
from core.errors import PermissionDenied
from incidents import selectors as incident_selectors
from notifications import selectors, services
from notifications.api.serializers import DeliveryHealthSerializer, MessageSerializer, ResendSerializer
from notifications.permissions import can_resend

INCIDENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The incident's id."
)
MESSAGE_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The message's id.")


class IncidentMessagesView(ApiView):
    serializer_class = MessageSerializer
    pagination_class = DefaultCursorPagination

    @extend_schema(
        operation_id="incidents_messages",
        summary="The messages sent about an incident, newest first",
        description="Every Slack post, email and webhook call for the incident, with its delivery status. "
        "Cursor-paginated. A private incident you may not see answers 404.",
        parameters=[INCIDENT_ID],
        responses={200: MessageSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        incident = incident_selectors.incident_get(user=request.user, pk=id)
        page = self.paginate_queryset(selectors.message_list(incident_id=incident.pk))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)


class MessageResendView(ApiView):
    serializer_class = MessageSerializer

    @extend_schema(
        operation_id="messages_resend",
        summary="Resend a dead or failed message",
        description="Puts the message back in the queue (attempts start again). For those who can act on its "
        "incident. The body is empty (`{}`) or absent. Answers 409 with code `conflict` when the message is pending, sending or already sent.",
        parameters=[MESSAGE_ID],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: MessageSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, id: str):
        message = selectors.message_get(user=request.user, pk=id)
        validated(ResendSerializer, request, data=request.data or {})
        if not can_resend(request.user, message):
            raise PermissionDenied("Only those who can act on the incident can resend its messages.")
        message = services.message_resend(message=message, actor=request.user)
        return Response(MessageSerializer(selectors.message_get(user=request.user, pk=message.pk)).data)


class DeliveryHealthView(ApiView):
    serializer_class = DeliveryHealthSerializer

    @extend_schema(
        operation_id="notifications_health",
        summary="Delivery health: queues, configuration errors and dead messages (staff)",
        description="Per channel: counts by status, the oldest undelivered message's age, whether the channel is "
        "switched on and what is wrong with its configuration, and the newest permanent error (e.g. Slack's "
        "`invalid_auth` for a refused token, `channel_not_found` for an unknown channel).",
        responses={200: DeliveryHealthSerializer, **error_responses(401, 403)},
    )
    def get(self, request):
        if not (request.user.is_staff and request.user.is_active):
            raise PermissionDenied("Delivery health is for staff.")
        return Response(DeliveryHealthSerializer(selectors.delivery_health_report(user=request.user)).data)
