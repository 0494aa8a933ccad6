from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api.views import ApiTokenViewSet, TokenView

router = SimpleRouter()
router.register("tokens", ApiTokenViewSet, basename="api-tokens")

urlpatterns = [path("token/", TokenView.as_view(), name="api-token"), *router.urls]
