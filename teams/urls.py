from django.urls import path

from teams import views

app_name = "teams"

urlpatterns = [
    path("", views.team_list, name="list"),
    path("new/", views.team_create, name="create"),
    path("<slug:slug>/", views.team_detail, name="detail"),
    path("<slug:slug>/members/", views.member_add, name="member_add"),
]
