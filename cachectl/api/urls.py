from django.urls import path

from cachectl.api import views

app_name = "cachectl"

urlpatterns = [
    path("cache/", views.CacheStatusApi.as_view(), name="cache-status"),
    path("cache/apply/", views.CacheSettingsApplyApi.as_view(), name="cache-apply"),
    path("cache/rollback/", views.CacheSettingsRollbackApi.as_view(), name="cache-rollback"),
    path("cache/confirm/", views.CacheSettingsConfirmApi.as_view(), name="cache-confirm"),
    path("cache/snapshots/", views.CacheSnapshotListApi.as_view(), name="cache-snapshot-list"),
    path("cache/snapshots/<int:snapshot_id>/restore/", views.CacheSnapshotRestoreApi.as_view(),
         name="cache-snapshot-restore"),
    path("cache/prewarm/", views.CachePrewarmApi.as_view(), name="cache-prewarm"),
]
