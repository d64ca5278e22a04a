from django.contrib import admin
from django.urls import include, path, re_path

from config.api import api, unknown_api_path
from config.health import healthz, readyz
from config.metrics import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<path>.*)$", unknown_api_path),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("", include("web.urls")),
]
