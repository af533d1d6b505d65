"""Module attributes imported on first use (PEP 562), for the packages every DAG file imports.

A DAG file that builds one Runway task should not pay for the Market catalogue, the Veo models and the Runway
API package: each public name of :mod:`airflow_provider_kie.client` (and of its ``runway_api``) is imported
from its module the first time it is read, then kept as a plain attribute.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, names_by_module: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose submodule ``m`` holds the space-separated
    names ``names_by_module[m]``."""
    where = {name: module for module, names in names_by_module.items() for name in names.split()}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
