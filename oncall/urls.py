from django.urls import path

from oncall import views

app_name = "oncall"

# Schedules, who is on call, my shifts, iCal feeds.
urlpatterns: list = [
    path("", views.oncall_index, name="index"),
    path("teams/<slug:slug>/", views.team_oncall, name="team"),
    path("schedules/<int:pk>/", views.schedule_detail, name="schedule"),
    path("schedules/<int:pk>/reset-feed/", views.schedule_reset_feed, name="schedule_reset_feed"),
    path("schedules/<int:pk>/rotations/new/", views.rotation_edit, name="rotation_new"),
    path("schedules/<int:pk>/rotations/<int:rid>/", views.rotation_edit, name="rotation_edit"),
    path("schedules/<int:pk>/overrides/new/", views.override_create, name="override_new"),
    path("schedules/<int:pk>/overrides/<int:oid>/delete/", views.override_delete, name="override_delete"),
    path("my-shifts/", views.my_shifts, name="my_shifts"),
    path("my-shifts/reset-feed/", views.feed_reset, name="feed_reset"),
    path("ical/schedule/<str:token>.ics", views.ical_schedule, name="ical_schedule"),
    path("ical/user/<str:token>.ics", views.ical_user, name="ical_user"),
]
