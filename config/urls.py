from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import views as core_views
from incidents import admin as incidents_admin

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(incidents_admin.view_on_site_shortcut),
        name="admin-view-on-site",
    ),
    path("admin/", admin.site.urls),
    path("accounts/api-tokens/", include("core.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("config.api_urls")),
    path("teams/", include("teams.urls")),
    path("notifications/", include("notifications.urls")),
    path("oncall/", include("oncall.urls")),
    path("oncall/", include("paging.urls")),
    path("status/", include("statuspage.urls")),
    path("", include("incidents.urls")),
]
