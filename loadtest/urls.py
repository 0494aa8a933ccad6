from django.urls import path

from loadtest import views

app_name = "loadtest"
urlpatterns = [
    path("", views.index, name="index"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/stop/", views.run_stop, name="run-stop"),
]
