import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_generates_and_names_both_security_schemes(anon_client):
    response = anon_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {**schemes["ApiKeyAuth"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["AdminTokenAuth"]["name"] == "X-Admin-Token"
    issue = schema["paths"]["/api/v1/auth/api-keys/"]["post"]
    assert {"ApiKeyAuth": [], "AdminTokenAuth": []} in issue["security"]
    whoami = schema["paths"]["/api/v1/auth/whoami/"]["get"]
    assert whoami["security"] == [{"ApiKeyAuth": []}]


def test_swagger_ui_is_served_from_installed_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
