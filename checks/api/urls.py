from django.urls import path
from rest_framework.routers import SimpleRouter

from checks.api import views

router = SimpleRouter()
router.register("checks", views.CheckViewSet)
router.register("daily-summaries", views.DailySummaryViewSet, basename="daily-summary")

urlpatterns = [
    *router.urls,
    path("reports/sla/", views.SlaReportView.as_view(), name="sla-report"),
]
