from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import schema as _schema  # noqa: F401 (registers the bearer-token auth scheme for the schema below)
from checks import urls as checks_urls
from lib.api import api_not_found
from lib.api_root import ApiRootView
from monitoring import views as monitoring_views
from monitoring.intake import views as intake_views

api_v1 = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("auth/", include("accounts.api.urls")),
    path("", include("monitoring.api.urls")),
    path("", include("alerts.api.urls")),
    path("", include("dashboards.api.urls")),
    path("loadtest/", include("loadtest.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("checks.api.urls")),
]

urlpatterns = [
    path("healthz", monitoring_views.healthz, name="healthz"),
    path("readyz", monitoring_views.readyz, name="readyz"),
    path("metrics", monitoring_views.prometheus_metrics, name="prometheus-metrics"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/write", intake_views.remote_write, name="remote-write"),
    path("api/v1/", include(api_v1)),
    # Anything else under /api/ answers the JSON envelope, DEBUG or not (Django's debug 404 is HTML).
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("otlp/v1/metrics", intake_views.otlp_metrics, name="otlp-metrics"),
    path("otlp/v1/traces", intake_views.otlp_traces, name="otlp-traces"),
    path("targets/", monitoring_views.targets_page, name="targets"),
    path("dashboards/", include("dashboards.urls")),
    path("alerts/", include("alerts.urls")),
    path("loadtest/", include("loadtest.urls")),
    path("explore/", include("explore.urls")),
    path("checks/", include("checks.urls")),
    path("ping/", include(checks_urls.ping_urlpatterns)),
    path("", include("overview.urls")),
]

handler404 = "lib.api.handler404"
handler500 = "lib.api.handler500"
