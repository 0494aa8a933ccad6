from django.urls import path

from monitoring.api import views

urlpatterns = [
    path("ingest/", views.IngestView.as_view(), name="api-ingest"),
    path("metrics/", views.MetricListView.as_view(), name="api-metrics"),
    path("series/", views.SeriesListView.as_view(), name="api-series"),
    path("query/", views.QueryView.as_view(), name="api-query"),
    path("export/", views.ExportView.as_view(), name="api-export"),
]
