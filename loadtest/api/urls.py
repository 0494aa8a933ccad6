from rest_framework.routers import SimpleRouter

from loadtest.api import views

router = SimpleRouter()
router.register("scenarios", views.ScenarioViewSet)
router.register("runs", views.RunViewSet)

urlpatterns = router.urls
