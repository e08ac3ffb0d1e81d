"""``/status/<page>/api/v2/...`` and the default page's ``/status/api/v2/...``: the Statuspage API v2."""

from django.urls import path

from statuspage.api import views
from statuspage.cache import ENDPOINTS

app_name = "statuspage"


def _name(endpoint: str) -> str:
    return endpoint.replace("/", "-")


urlpatterns = [
    path("s/<str:code>", views.shortlink, name="shortlink"),
    *(
        path(f"api/v2/{e}.json", views.endpoint, {"endpoint": e}, name=f"default-{_name(e)}")
        for e in ENDPOINTS
    ),
    *(
        path(f"<slug:slug>/api/v2/{e}.json", views.endpoint, {"endpoint": e}, name=_name(e))
        for e in ENDPOINTS
    ),
]
