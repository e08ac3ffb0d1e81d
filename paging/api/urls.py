from django.urls import path

from paging.api import views

# Escalation policies and pages.
urlpatterns = [
    path(
        "escalation-policies/",
        views.EscalationPolicyListView.as_view(),
        name="api-escalation-policy-list",
    ),
    path(
        "escalation-policies/<str:id>/",
        views.EscalationPolicyDetailView.as_view(),
        name="api-escalation-policy-detail",
    ),
    path("incidents/<str:id>/pages/", views.IncidentPagesView.as_view(), name="api-incident-pages"),
    path("pages/<str:id>/", views.PageDetailView.as_view(), name="api-page-detail"),
    path("pages/<str:id>/acknowledge/", views.PageAcknowledgeView.as_view(), name="api-page-acknowledge"),
]
