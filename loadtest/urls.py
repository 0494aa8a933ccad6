from django.urls import path

from loadtest import views

app_name = "loadtest"
urlpatterns = [path("", views.index, name="index")]
