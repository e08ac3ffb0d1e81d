"""/api/v1/: every app's API routes, one include each."""

from django.urls import include, path

urlpatterns = [
    path("", include("teams.api.urls")),
    path("", include("incidents.api.urls")),
]
