"""/api/v1/ teams, members and services."""

from django.urls import path

from teams.api import views

urlpatterns = [
    path("teams/", views.TeamListView.as_view(), name="api-team-list"),
    path("teams/<str:slug>/", views.TeamDetailView.as_view(), name="api-team-detail"),
    path("teams/<str:slug>/members/", views.TeamMembersView.as_view(), name="api-team-members"),
    path(
        "teams/<str:slug>/members/<str:username>/",
        views.TeamMemberDetailView.as_view(),
        name="api-team-member-detail",
    ),
    path("services/", views.ServiceListView.as_view(), name="api-service-list"),
]
