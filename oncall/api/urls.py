from django.urls import path

from oncall.api import views

# Schedules, rotations, overrides, shifts, who is on call.
urlpatterns: list = [
    path("teams/<str:slug>/oncall/", views.TeamOncallView.as_view(), name="api-team-oncall"),
    path("schedules/", views.ScheduleListView.as_view(), name="api-schedule-list"),
    path("schedules/<str:id>/", views.ScheduleDetailView.as_view(), name="api-schedule-detail"),
    path("schedules/<str:id>/shifts/", views.ScheduleShiftsView.as_view(), name="api-schedule-shifts"),
    path(
        "schedules/<str:id>/reset-feed/",
        views.ScheduleResetFeedView.as_view(),
        name="api-schedule-reset-feed",
    ),
    path("schedules/<str:id>/rotations/", views.RotationListView.as_view(), name="api-rotation-list"),
    path(
        "schedules/<str:id>/rotations/<str:rid>/",
        views.RotationDetailView.as_view(),
        name="api-rotation-detail",
    ),
    path("schedules/<str:id>/overrides/", views.OverrideListView.as_view(), name="api-override-list"),
    path(
        "schedules/<str:id>/overrides/<str:oid>/",
        views.OverrideDetailView.as_view(),
        name="api-override-detail",
    ),
]
