from django.urls import path
from rest_framework.routers import SimpleRouter

from monitoring.api import targets, views

router = SimpleRouter()
router.register("scrape-targets", targets.ScrapeTargetViewSet)

urlpatterns = [
    path("ingest/", views.IngestView.as_view(), name="api-ingest"),
    path("metrics/", views.MetricListView.as_view(), name="api-metrics"),
    path("series/", views.SeriesListView.as_view(), name="api-series"),
    path("query/", views.QueryView.as_view(), name="api-query"),
    path("export/", views.ExportView.as_view(), name="api-export"),
    *router.urls,
    path("storage/", views.StorageView.as_view(), name="api-storage"),
    path("storage/compact/", views.CompactView.as_view(), name="api-storage-compact"),
]
