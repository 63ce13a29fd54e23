from django.urls import path

from features.api import views

app_name = "features"

urlpatterns = [
    path("analyze/", views.AnalysisCreateApi.as_view(), name="analyze-create"),
    path("analyze/<int:analysis_id>/", views.AnalysisDetailApi.as_view(), name="analyze-detail"),
    path("features/versions/", views.FeatureVersionListApi.as_view(), name="feature-versions"),
    path("files/<str:sha256>/content/", views.FileContentApi.as_view(), name="files-content"),
    path("files/<str:sha256>/thumbnail/", views.FileThumbnailApi.as_view(), name="files-thumbnail"),
    path("features/slots/", views.FeatureSlotListApi.as_view(), name="feature-slots"),
]
