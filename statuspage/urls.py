"""``/status/<page>/`` (the HTML page and its feeds) and ``/status/<page>/api/v2/...`` (the Statuspage API v2);
the default page's at ``/status/``, ``/status/history.rss`` and ``/status/api/v2/...``."""

from django.urls import path

from statuspage import public, subscribers, web
from statuspage.api import views
from statuspage.cache import ENDPOINTS

app_name = "statuspage"


def _name(endpoint: str) -> str:
    return endpoint.replace("/", "-")


urlpatterns = [
    path("", public.output, {"output": public.PAGE}, name="default-page"),
    path("history.rss", public.output, {"output": public.RSS}, name="default-rss"),
    path("history.atom", public.output, {"output": public.ATOM}, name="default-atom"),
    path("incidents/<int:pk>/publish/", web.publish, name="publish"),
    path("s/<str:code>", views.shortlink, name="shortlink"),
    *(
        path(f"api/v2/{e}.json", views.endpoint, {"endpoint": e}, name=f"default-{_name(e)}")
        for e in ENDPOINTS
    ),
    *(
        path(f"<slug:slug>/api/v2/{e}.json", views.endpoint, {"endpoint": e}, name=_name(e))
        for e in ENDPOINTS
    ),
    path("<slug:slug>/", public.output, {"output": public.PAGE}, name="page"),
    path("<slug:slug>/history.rss", public.output, {"output": public.RSS}, name="rss"),
    path("<slug:slug>/history.atom", public.output, {"output": public.ATOM}, name="atom"),
    path("<slug:slug>/subscribe/", subscribers.subscribe, name="subscribe"),
    path("<slug:slug>/confirm/<str:token>/", subscribers.confirm, name="subscribe-confirm"),
    path("<slug:slug>/unsubscribe/<str:token>/", subscribers.unsubscribe, name="unsubscribe"),
]
