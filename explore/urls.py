from django.urls import path

from explore import views

app_name = "explore"
urlpatterns = [
    path("", views.index, name="index"),
    path("metrics/", views.metrics, name="metrics"),
    path("labels/", views.labels, name="labels"),
    path("add-to-dashboard/", views.add_to_dashboard, name="add-to-dashboard"),
]
