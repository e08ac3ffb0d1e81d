from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("health/", views.health, name="health"),
    path("incidents/<int:pk>/messages/", views.incident_messages, name="incident_messages"),
    path("messages/<int:pk>/resend/", views.message_resend, name="message_resend"),
]
