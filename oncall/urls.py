from django.urls import path  # noqa: F401

app_name = "oncall"

urlpatterns: list = []

# Paging (oncall.views_paging).
from oncall import views_paging  # noqa: E402

urlpatterns += [
    path("pages/", views_paging.my_pages, name="pages"),
    path("pages/<int:pk>/acknowledge/", views_paging.page_acknowledge, name="page_acknowledge"),
    path("pages/<int:pk>/ack/<str:token>/", views_paging.page_ack_link, name="page_ack_link"),
    path("incidents/<int:pk>/page/", views_paging.page_create, name="page_create"),
]
