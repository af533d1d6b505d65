"""OpenLineage for the KIE operators and sensor: which media went in, which files came out.

The OpenLineage provider's listener asks every task for ``get_openlineage_facets_on_start`` (when it starts)
and ``get_openlineage_facets_on_complete`` (when it ends; also on failure, which has no method of its own
here), as it does for the first-party providers' operators. :class:`KieLineageMixin` answers:

- **inputs**: every input medium the task was given (the image to animate, the video to restyle, a market
  job's ``*_url``/``*_urls`` fields), as the DAG gave it: a URL, a local path or an ObjectStoragePath. A local
  file is reported as itself, not as the KIE upload link it travelled through;
- **outputs**: every file the task stored under ``output_dir`` (none when ``output_dir`` is ``None``: KIE's
  own links expire, so they are not datasets anyone can find later);
- **run facets**: ``externalQuery`` (the standard facet for "the job this run started elsewhere": the KIE
  or Runway task id, as BigQuery and dbt Cloud report their job ids) and ``kieGeneration`` (prompt, model,
  task kind, backend).

Dataset names follow OpenLineage's naming spec (https://openlineage.io/docs/spec/naming): a local file is
namespace ``file`` and its absolute path; ``s3://bucket/key`` is namespace ``s3://bucket`` and name ``key``
(``gs://`` likewise); any other URL is namespace ``scheme://host[:port]`` and its path. Query strings,
fragments and user info are dropped from every URL: signed links carry their token in the query, and a
connection id or credentials can sit in the user info. The event carries no API key or webhook secret: the
mixin reads only media locations, the prompt, the model and ids.

OpenLineage is optional at run time. Nothing here imports it until the listener calls a method, and without
the provider the methods return ``None`` (a task without OpenLineage never calls them anyway).

**Wiring.** The outputs come from the task's own result: whatever stores a clip sets
``task._lineage_result`` to the :class:`~airflow_provider_kie.lifecycle.results.ClipResult` it returns
(:func:`~airflow_provider_kie.lifecycle.completion.finish_clip`), and an operator that only submits sets it
to its :class:`~airflow_provider_kie.lifecycle.results.SubmittedResult`. The listener runs in the process
that ran the task (after a deferral too: the resumed method stores the clip in the same process), so the
attribute is there when it asks; reading the return value back from XCom instead would cost an API call
and find nothing when ``do_xcom_push`` is off.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset
    from openlineage.client.facet_v2 import RunFacet

    from airflow_provider_kie.lifecycle.results import ClipResult, SubmittedResult

__all__ = ["GENERATION_FACET", "KieLineageMixin", "dataset_name"]

#: The key of the custom run facet (camelCase, as OpenLineage's and Airflow's own facet keys).
GENERATION_FACET = "kieGeneration"

#: Object stores whose URL scheme has one OpenLineage spelling (``s3a://`` data is ``s3://`` data).
_SCHEMES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}


def dataset_name(location: Any) -> tuple[str, str] | None:
    """OpenLineage's ``(namespace, name)`` for a media location, or ``None`` for none (blank, inline data).

    :param location: a URL, a local path (made absolute), or an ObjectStoragePath (its URL).
    """
    text = str(location).strip() if location is not None else ""
    if not text or text.startswith("data:"):
        return None  # an inline data URI is content, not a place
    if "://" not in text:
        return "file", posixpath.normpath(os.path.abspath(text))
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    # User info is dropped: credentials, or an ObjectStoragePath's connection id (s3://aws_default@bucket).
    host = parts.netloc.rpartition("@")[2]
    if scheme in ("file", "local"):
        return ("file" if host in ("", "localhost") else f"file://{host}"), parts.path or "/"
    if not host:
        return None
    # A key, not a path: s3://bucket/videos/a.mp4 is bucket "bucket", object "videos/a.mp4".
    return f"{_SCHEMES.get(scheme, scheme)}://{host}", parts.path.lstrip("/") or "/"


def _is_path_object(value: Any) -> bool:
    """A path given as an object (``ObjectStoragePath``, ``pathlib.Path``), not as text."""
    return isinstance(value, os.PathLike) or hasattr(value, "protocol")


def _is_url_key(key: Any) -> bool:
    """A market ``input`` key that holds media (KIE names them ``image_url``, ``video_urls``...)."""
    name = str(key).lower()
    return name.endswith(("url", "urls")) and "callback" not in name


def _media(value: Any, *, whole: bool) -> Iterator[Any]:
    """The media locations in an input field's value.

    ``whole``: the value itself is media (an ``image`` field, or a list of images). A mapping (a market
    job's ``input``) holds media only under its URL keys; its other text (the prompt, a duration) is not.
    """
    if value is None:
        return
    if _is_path_object(value):
        yield value
    elif isinstance(value, str):
        text = value.strip()
        if whole and text.startswith("{"):
            try:  # a market job's input given as a JSON string
                yield from _media(json.loads(text), whole=False)
            except ValueError:
                return
        elif whole and text:
            yield text
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _media(item, whole=_is_url_key(key))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _media(item, whole=whole)


def _datasets(locations: Iterator[Any] | list[Any]) -> list[Dataset]:
    """One dataset per distinct location, in the order given."""
    from openlineage.client.event_v2 import Dataset

    seen: dict[tuple[str, str], Dataset] = {}
    for location in locations:
        named = dataset_name(location)
        if named is not None and named not in seen:
            seen[named] = Dataset(namespace=named[0], name=named[1])
    return list(seen.values())


@functools.cache
def _generation_facet_class() -> Callable[..., RunFacet]:
    """The ``kieGeneration`` facet's class, defined on first use so that importing this module never imports
    OpenLineage."""
    import attrs
    from openlineage.client.facet_v2 import RunFacet

    @attrs.define
    class KieGenerationRunFacet(RunFacet):
        """What a KIE operator asked for: prompt, model, the task at the backend and which backend.

        Attributes:
            prompt: the clip's prompt as sent (or as KIE's record reports it).
            model: the model, when the operator or KIE's record names one.
            taskId: the KIE (or Runway API) task id, once there is one.
            kind: the task's API family (``runway``, ``aleph``, ``jobs``, ``veo``, ``runway_api``).
            backend: ``kie``, or ``runway`` for Runway's own API.
        """

        prompt: str | None = attrs.field(default=None)
        model: str | None = attrs.field(default=None)
        taskId: str | None = attrs.field(default=None)
        kind: str | None = attrs.field(default=None)
        backend: str | None = attrs.field(default=None)

    return KieGenerationRunFacet


class KieLineageMixin:
    """OpenLineage facets for a task that makes (or waits for) a clip and stores it.

    Mixed into :class:`~airflow_provider_kie.operators.base.KieGenerationOperator` and
    :class:`~airflow_provider_kie.sensors.kie.KieTaskSensor`. It reads the task's parameters (``prompt``,
    ``model``, the input fields its family's request lists in ``file_fields``) and ``_lineage_result``: the
    result the task returned, set where the result is made (see the module docstring).
    """

    #: The result this try returned (a finished clip, or only its submit); ``None`` before it has one.
    _lineage_result: ClipResult | SubmittedResult | None = None

    def get_openlineage_facets_on_start(self) -> OperatorLineage[Dataset, RunFacet] | None:
        """The START event: the inputs and the prompt (no task id or outputs yet)."""
        return self._openlineage(with_result=False)

    def get_openlineage_facets_on_complete(
        self, task_instance: Any
    ) -> OperatorLineage[Dataset, RunFacet] | None:
        """The COMPLETE event (and FAIL: the provider falls back to this): inputs, stored files, the task.

        :param task_instance: unused; the result is on the task (``_lineage_result``), set by this try.
            Without one (a failed try), the task id is the one this try submitted or waited for, if any.
        """
        return self._openlineage(with_result=True)

    # -- building the lineage --------------------------------------------------------------------------
    def _openlineage(self, *, with_result: bool) -> OperatorLineage[Dataset, RunFacet] | None:
        try:
            from airflow.providers.openlineage.extractors import OperatorLineage
            from openlineage.client.facet_v2 import external_query_run
        except ImportError:  # the OpenLineage provider is optional: without it, report nothing
            return None
        result: Mapping[str, Any] = (self._lineage_result or {}) if with_result else {}
        # Without a result (a try that failed after its submit), the id the lifecycle keeps for on_kill.
        task_id = result.get("kie_task_id") or (getattr(self, "_kie_task_id", None) if with_result else None)
        backend = self._lineage_backend(result.get("kind"))
        run_facets: dict[str, Any] = {
            GENERATION_FACET: _generation_facet_class()(
                prompt=self._lineage_prompt(result),
                model=result.get("model") or _text(getattr(self, "model", None)),
                taskId=task_id,
                kind=result.get("kind"),
                backend=backend,
            )
        }
        if task_id:
            run_facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
                externalQueryId=str(task_id), source=backend or "kie"
            )
        return OperatorLineage(
            inputs=_datasets(list(self._lineage_inputs())),
            outputs=_datasets(list(result.get("files") or [])),
            run_facets=run_facets,
        )

    def _lineage_inputs(self) -> Iterator[Any]:
        """The media in the input fields the family's request lists (``image_url`` is the operator's
        ``image``: ``parameter_names`` maps request fields to parameters)."""
        request = getattr(getattr(self, "family", None), "request", None)
        renamed: Mapping[str, str] = getattr(self, "parameter_names", None) or {}
        for field in getattr(request, "file_fields", ()):
            yield from _media(getattr(self, renamed.get(field, field), None), whole=True)

    def _lineage_prompt(self, result: Mapping[str, Any]) -> str | None:
        """The prompt the DAG gave; else KIE's record's; else a market job's ``input["prompt"]``."""
        prompt = _text(getattr(self, "prompt", None)) or _text(result.get("prompt"))
        if prompt:
            return prompt
        job_input = getattr(self, "input", None)
        if isinstance(job_input, str):
            try:
                job_input = json.loads(job_input)
            except ValueError:
                return None
        return _text(job_input.get("prompt")) if isinstance(job_input, Mapping) else None

    def _lineage_backend(self, kind: Any) -> str | None:
        """``runway`` for Runway's own API, ``kie`` otherwise; ``None`` while unknown. Never looks up a
        connection: it reads the result's kind, or the hook this try already built."""
        if kind:
            return "runway" if kind == "runway_api" else "kie"
        hook = self.__dict__.get("hook")
        if hook is None:
            return None
        from airflow_provider_kie.hooks.runway import RunwayHook

        return "runway" if isinstance(hook, RunwayHook) else "kie"


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
