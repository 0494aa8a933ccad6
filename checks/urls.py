from django.urls import path

from checks import views

app_name = "checks"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.edit, name="create"),
    path("sla/", views.sla, name="sla"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/toggle/", views.toggle, name="toggle"),
]

ping_urlpatterns = [
    path("<uuid:token>", views.ping, name="ping"),
    path("<uuid:token>/", views.ping),
    path("<uuid:token>/fail", views.ping, {"fail": True}, name="ping-fail"),
    path("<uuid:token>/fail/", views.ping, {"fail": True}),
]
