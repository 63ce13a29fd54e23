from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    """The top layer: analyze a CAD file across the apps (features parses and extracts, vectors registers and
    searches, modelops classifies, cachectl caches the features). Nothing below imports it."""

    name = "analysis"
    verbose_name = "Analyses"
