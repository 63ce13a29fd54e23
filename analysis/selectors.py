"""Reads of the analysis app."""

from __future__ import annotations

from analysis.models import Analysis
from cadml_site.errors import NotFound


def analysis_get(*, analysis_id: int) -> Analysis:
    analysis = Analysis.objects.select_related("cad_file").filter(pk=analysis_id).first()
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} does not exist", code="analysis_not_found", stage="features",
                       context={"id": analysis_id})
    return analysis
