from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/", views.incident_list, name="list"),
    path("incidents/declare/", views.declare, name="declare"),
    path("incidents/go/", views.switcher_go, name="go"),
    path("incidents/switcher/", views.switcher_suggest, name="switcher"),
    path("incidents/<int:pk>/", views.detail, name="detail"),
    path("incidents/<int:pk>/timeline/", views.timeline, name="timeline"),
    path("incidents/<int:pk>/timeline.md", views.timeline_export, {"fmt": "md"}, name="timeline_markdown"),
    path("incidents/<int:pk>/timeline.csv", views.timeline_export, {"fmt": "csv"}, name="timeline_csv"),
    path("incidents/<int:pk>/transition/", views.transition, name="transition"),
    path("incidents/<int:pk>/severity/", views.change_severity, name="severity"),
    path("incidents/<int:pk>/roles/assign/", views.assign_role, name="assign_role"),
    path("incidents/<int:pk>/roles/relieve/", views.relieve_role, name="relieve_role"),
    path("incidents/<int:pk>/notes/", views.add_note, name="note"),
    path("incidents/<int:pk>/updates/", views.post_update, name="update_post"),
    path("incidents/<int:pk>/updates/skip-final/", views.skip_final_update, name="final_update_skip"),
    path("incidents/<int:pk>/edit/", views.edit, name="edit"),
    path("incidents/teams/open-counts/", views.team_open_counts, name="team_counts"),
    path("incidents/teams/<slug:slug>/open/", views.team_open_incidents, name="team_open"),
]
