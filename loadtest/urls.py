from django.urls import path

from loadtest import views

app_name = "loadtest"
urlpatterns = [
    path("", views.index, name="index"),
    path("scenarios/new/", views.scenario_new, name="scenario-new"),
    path("scenarios/<int:pk>/start/", views.scenario_start, name="scenario-start"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/stop/", views.run_stop, name="run-stop"),
    path("runs/<int:pk>/baseline/", views.run_baseline, name="run-baseline"),
    path("compare/", views.compare, name="compare"),
]
