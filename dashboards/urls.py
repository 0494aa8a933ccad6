from django.urls import path

from dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("import/", views.import_view, name="import"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/rename/", views.rename, name="rename"),
    path("<int:pk>/duplicate/", views.duplicate, name="duplicate"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/widgets/", views.add_widget, name="add-widget"),
    path("<int:pk>/widgets/<int:widget_id>/", views.history, name="history"),
    path("<int:pk>/widgets/<int:widget_id>/edit/", views.edit_widget, name="edit-widget"),
    path("<int:pk>/widgets/<int:widget_id>/delete/", views.delete_widget, name="delete-widget"),
]
