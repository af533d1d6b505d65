"""Apache Airflow provider for KIE's video APIs: Runway generate/extend and Aleph video-to-video."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
