from django.urls import path

from vectors.api import views

app_name = "vectors"

urlpatterns = [
    path("vectors/", views.VectorsApi.as_view(), name="vectors"),
    path("vectors/similarity/", views.VectorSimilaritySearchApi.as_view(), name="vectors-similarity"),
    path("vectors/similarity/batch/", views.VectorSimilarityBatchApi.as_view(), name="vectors-similarity-batch"),
    path("vectors/index/", views.IndexStatusApi.as_view(), name="vectors-index"),
    path("vectors/index/recover/", views.IndexRecoverApi.as_view(), name="vectors-index-recover"),
    path("vectors/index/rebuild/", views.IndexRebuildApi.as_view(), name="vectors-index-rebuild"),
    path("vectors/index/degrade/", views.IndexDegradeApi.as_view(), name="vectors-index-degrade"),
    path("vectors/migrate/preview/", views.VectorMigrationPreviewApi.as_view(), name="vectors-migrate-preview"),
    path("vectors/migrate/", views.VectorMigrationStartApi.as_view(), name="vectors-migrate"),
    path("vectors/migrate/runs/<int:run_id>/", views.VectorMigrationRunDetailApi.as_view(),
         name="vectors-migrate-run"),
    path("vectors/<str:key>/", views.VectorDetailApi.as_view(), name="vectors-detail"),
]
