"""/api/v1/ incidents and their actions, severities and roles.

Ids are matched as strings so that a non-integer id answers the API's JSON 404 rather than the HTML one.
"""

from django.urls import path

from incidents.api import views

urlpatterns = [
    path("incidents/", views.IncidentListView.as_view(), name="api-incident-list"),
    path("incidents/<str:id>/", views.IncidentDetailView.as_view(), name="api-incident-detail"),
    path(
        "incidents/<str:id>/transition/",
        views.IncidentTransitionView.as_view(),
        name="api-incident-transition",
    ),
    path("incidents/<str:id>/severity/", views.IncidentSeverityView.as_view(), name="api-incident-severity"),
    path("incidents/<str:id>/roles/", views.IncidentRolesView.as_view(), name="api-incident-roles"),
    path(
        "incidents/<str:id>/roles/<str:role_slug>/",
        views.IncidentRoleDetailView.as_view(),
        name="api-incident-role-detail",
    ),
    path("incidents/<str:id>/notes/", views.IncidentNotesView.as_view(), name="api-incident-notes"),
    path("incidents/<str:id>/updates/", views.IncidentUpdatesView.as_view(), name="api-incident-updates"),
    path("incidents/<str:id>/timeline/", views.IncidentTimelineView.as_view(), name="api-incident-timeline"),
    path("severities/", views.SeverityListView.as_view(), name="api-severity-list"),
    path("roles/", views.RoleListView.as_view(), name="api-role-list"),
]
