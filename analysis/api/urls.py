from django.urls import path

from analysis.api import views

app_name = "analysis"

urlpatterns = [
    path("analyze/", views.AnalysisCreateApi.as_view(), name="analyze-create"),
    path("analyze/<int:analysis_id>/", views.AnalysisDetailApi.as_view(), name="analyze-detail"),
    path("features/versions/", views.FeatureVersionListApi.as_view(), name="feature-versions"),
    path("features/slots/", views.FeatureSlotListApi.as_view(), name="feature-slots"),
]
