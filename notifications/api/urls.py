"""/api/v1/ notifications: an incident's messages, resend, delivery health.

Ids are matched as strings so that a non-integer id answers the API's JSON 404 rather than the HTML one.
"""

from django.urls import path

from notifications.api import views

urlpatterns = [
    path("incidents/<str:id>/messages/", views.IncidentMessagesView.as_view(), name="api-incident-messages"),
    path("messages/<str:id>/resend/", views.MessageResendView.as_view(), name="api-message-resend"),
    path("notifications/health/", views.DeliveryHealthView.as_view(), name="api-notifications-health"),
]
