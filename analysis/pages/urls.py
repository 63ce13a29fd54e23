from django.urls import path

from analysis.pages import views

app_name = "parts"

urlpatterns = [
    path("", views.PartSearchView.as_view(), name="search"),
    path("login/", views.PartLoginView.as_view(), name="login"),
    path("logout/", views.PartLogoutView.as_view(), name="logout"),
    path("files/<str:sha256>/thumbnail/", views.PartThumbnailView.as_view(), name="thumbnail"),
    path("files/<str:sha256>/download/", views.PartDownloadView.as_view(), name="download"),
]
