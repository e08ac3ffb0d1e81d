from django.urls import path

from paging import views

app_name = "paging"

# Mounted under /oncall/ beside the on-call pages: acknowledgement links already sent keep working.
urlpatterns = [
    path("pages/", views.my_pages, name="pages"),
    path("pages/<int:pk>/acknowledge/", views.page_acknowledge, name="page_acknowledge"),
    path("pages/<int:pk>/ack/<str:token>/", views.page_ack_link, name="page_ack_link"),
    path("incidents/<int:pk>/page/", views.page_create, name="page_create"),
]
