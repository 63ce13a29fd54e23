from django.urls import path

from modelops.api import views

app_name = "modelops"

urlpatterns = [
    path("model/", views.ModelStatusApi.as_view(), name="model-status"),
    path("model/versions/", views.ModelVersionUploadApi.as_view(), name="model-version-upload"),
    path("model/versions/register/", views.ModelVersionRegisterApi.as_view(), name="model-version-register"),
    path("model/reload/", views.ModelReloadApi.as_view(), name="model-reload"),
    path("model/rollback/", views.ModelRollbackApi.as_view(), name="model-rollback"),
    path("model/opcode-audit/", views.OpcodeAuditApi.as_view(), name="model-opcode-audit"),
    path("model/predict/", views.ModelPredictApi.as_view(), name="model-predict"),
]
