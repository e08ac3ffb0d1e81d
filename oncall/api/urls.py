from django.urls import path

urlpatterns: list = []

# Escalation policies and pages (oncall.api.paging).
from oncall.api import paging as paging_views  # noqa: E402

urlpatterns += [
    path(
        "escalation-policies/",
        paging_views.EscalationPolicyListView.as_view(),
        name="api-escalation-policy-list",
    ),
    path(
        "escalation-policies/<str:id>/",
        paging_views.EscalationPolicyDetailView.as_view(),
        name="api-escalation-policy-detail",
    ),
    path("incidents/<str:id>/pages/", paging_views.IncidentPagesView.as_view(), name="api-incident-pages"),
    path("pages/<str:id>/", paging_views.PageDetailView.as_view(), name="api-page-detail"),
    path(
        "pages/<str:id>/acknowledge/", paging_views.PageAcknowledgeView.as_view(), name="api-page-acknowledge"
    ),
]
