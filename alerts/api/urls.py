from rest_framework.routers import SimpleRouter

from alerts.api import views

router = SimpleRouter()
router.register("notification-channels", views.NotificationChannelViewSet)
router.register("alert-rules", views.AlertRuleViewSet)
router.register("silences", views.SilenceViewSet)
router.register("maintenance-windows", views.MaintenanceWindowViewSet)
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = router.urls
