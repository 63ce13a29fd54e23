from django.urls import path

from features.api import views

app_name = "features"

urlpatterns = [
    path("files/<str:sha256>/content/", views.FileContentApi.as_view(), name="files-content"),
    path("files/<str:sha256>/thumbnail/", views.FileThumbnailApi.as_view(), name="files-thumbnail"),
]
