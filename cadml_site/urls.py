"""URL map: landing page, admin, metrics, OpenAPI schema and docs, and the versioned API."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cadml_site.api import auth_views
from cadml_site.api import views as site_views

admin.site.site_header = "CAD ML Platform"
admin.site.site_title = "CAD ML Platform"
admin.site.index_title = "Operations console"

handler404 = "cadml_site.api.exceptions.not_found_view"
handler500 = "cadml_site.api.exceptions.server_error_view"

api_v1 = [
    path("health/", site_views.HealthApi.as_view(), name="health"),
    path("health/live/", site_views.HealthLiveApi.as_view(), name="health-live"),
    path("health/ready/", site_views.HealthReadyApi.as_view(), name="health-ready"),
    path("auth/whoami/", auth_views.WhoAmIApi.as_view(), name="auth-whoami"),
    path("auth/api-keys/", auth_views.ApiKeyIssueApi.as_view(), name="auth-api-key-issue"),
    path("auth/api-keys/<str:prefix>/revoke/", auth_views.ApiKeyRevokeApi.as_view(), name="auth-api-key-revoke"),
    path("", include("analysis.api.urls")),
    path("", include("features.api.urls")),
    path("", include("vectors.api.urls")),
    path("", include("modelops.api.urls")),
    path("", include("cachectl.api.urls")),
]

urlpatterns = [
    path("", site_views.landing_view, name="landing"),
    path("admin/", admin.site.urls),
    path("search/", include("analysis.pages.urls")),
    path("metrics", site_views.metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
]
