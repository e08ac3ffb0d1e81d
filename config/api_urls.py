"""/api/v1/: every app's API routes, one include each, then a JSON 404 for any other path."""

from django.urls import include, path, re_path

from core.api.views import api_not_found

urlpatterns = [
    path("", include("teams.api.urls")),
    path("", include("incidents.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("oncall.api.urls")),
    path("", include("paging.api.urls")),
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]
