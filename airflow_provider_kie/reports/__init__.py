"""Reports of generated clips for people: plain files anyone opens; no Airflow needed to write or read them.

- :func:`~airflow_provider_kie.reports.contact_sheet.render_contact_sheet`: one self-contained HTML page
  (plus ``manifest.json``) comparing the clips of a model bake-off.
"""

from __future__ import annotations

from airflow_provider_kie.reports.contact_sheet import (
    MANIFEST_NAME,
    contact_sheet_html,
    contact_sheet_manifest,
    render_contact_sheet,
)

__all__ = ["MANIFEST_NAME", "contact_sheet_html", "contact_sheet_manifest", "render_contact_sheet"]
