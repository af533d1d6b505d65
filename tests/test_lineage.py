"""OpenLineage: what the operators and the sensor report, read the way the OpenLineage provider reads it.

The installed provider ships no test helpers, so each test builds the ``OperatorLineage`` it expects and
compares it with what the provider's own ``DefaultExtractor`` (the one its listener uses for an operator
that has ``get_openlineage_facets_on_*``) gets from the task.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from airflow.providers.openlineage.extractors import OperatorLineage
from airflow.providers.openlineage.extractors.base import DefaultExtractor
from airflow.providers.openlineage.extractors.manager import ExtractorManager
from airflow.sdk import ObjectStoragePath
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import external_query_run
from openlineage.client.serde import Serde

from airflow_provider_kie import lineage
from airflow_provider_kie.client import TaskKind, TaskRecord, TaskState
from airflow_provider_kie.hooks.runway import RunwayHook
from airflow_provider_kie.lifecycle.completion import finish_clip
from airflow_provider_kie.lifecycle.results import SubmittedResult, clip_result
from airflow_provider_kie.lineage import GENERATION_FACET, KieLineageMixin, dataset_name
from airflow_provider_kie.operators.market import KieJobOperator
from airflow_provider_kie.operators.runway import RunwayAlephOperator, RunwayGenerateOperator
from airflow_provider_kie.operators.veo import VeoGenerateOperator
from airflow_provider_kie.sensors.kie import KieTaskSensor

SIGNED = "X-Amz-Signature=s3cr3t-sig&X-Amz-Credential=AKIA-TOKEN"


def _with_lineage(cls: type) -> type:
    """``cls`` with the mixin, whether or not its base already has it (the mixin comes last either way,
    so the class's MRO is valid in both cases)."""
    return type(cls.__name__, (cls, KieLineageMixin), {})


def _facet(**fields: Any) -> Any:
    return lineage._generation_facet_class()(**fields)


def _record(task_id: str, **fields: Any) -> TaskRecord:
    return TaskRecord(
        task_id=task_id,
        kind=fields.pop("kind", TaskKind.RUNWAY),
        state=TaskState.SUCCEEDED,
        raw_state="success",
        **fields,
    )


def _fake_hook(record: TaskRecord) -> mock.MagicMock:
    hook = mock.MagicMock(name="KieHook")
    hook.get_conn.return_value.get_task.return_value = record
    return hook


@pytest.fixture
def downloads(mocker):
    """The real storing step (names, temp file, atomic rename), with each download writing a few bytes."""

    def download(http: Any, url: str, sink: Path) -> tuple[int, str | None]:
        sink.write_bytes(b"media")
        return 5, "video/mp4"

    return mocker.patch("airflow_provider_kie.client.storage._download_once", side_effect=download)


def _store(task: Any, record: TaskRecord) -> Any:
    """Finish ``record`` for ``task`` through the real lifecycle, and record the result on the task as the
    lifecycle's wiring does (``task._lineage_result``)."""
    context = {"ti": mock.MagicMock(name="ti"), "outlet_events": mock.MagicMock()}
    result = finish_clip(context, task, _fake_hook(record), record)
    task._lineage_result = result
    return result


def _extracted(task: Any) -> OperatorLineage | None:
    """What the OpenLineage listener gets for a finished task: the provider's extractor for it, run."""
    extractor_class = ExtractorManager().get_extractor_class(task)
    assert extractor_class is DefaultExtractor
    return extractor_class(task).extract_on_complete(mock.MagicMock(name="task_instance"))


def _as_json(found: OperatorLineage) -> str:
    """The lineage as OpenLineage serializes it into the event."""
    parts = [*found.inputs, *found.outputs, *found.run_facets.values()]
    return json.dumps([json.loads(Serde.to_json(part)) for part in parts])


# -- the cases the issue names ---------------------------------------------------------------------------
def test_runway_clip_with_a_local_image_stored_in_a_local_dir(tmp_path, downloads):
    image = tmp_path / "in" / "fox.png"
    image.parent.mkdir()
    image.write_bytes(b"png")
    out = tmp_path / "clips"
    out.mkdir()
    op = _with_lineage(RunwayGenerateOperator)(
        task_id="gen", prompt="a fox at dawn", image=str(image), output_dir=str(out)
    )
    _store(
        op,
        _record(
            "t-1",
            video_url=f"https://tempfile.kie.test/v/t-1.mp4?{SIGNED}",
            cover_url=f"https://tempfile.kie.test/c/t-1.jpg?{SIGNED}",
            prompt="a fox at dawn",
        ),
    )

    assert _extracted(op) == OperatorLineage(
        inputs=[Dataset(namespace="file", name=str(image))],
        outputs=[
            Dataset(namespace="file", name=str(out / "t-1.mp4")),
            Dataset(namespace="file", name=str(out / "t-1.jpg")),
        ],
        run_facets={
            GENERATION_FACET: _facet(
                prompt="a fox at dawn", model=None, taskId="t-1", kind="runway", backend="kie"
            ),
            "externalQuery": external_query_run.ExternalQueryRunFacet(externalQueryId="t-1", source="kie"),
        },
    )
    assert (out / "t-1.mp4").read_bytes() == b"media"  # the outputs are the files the lifecycle stored


@pytest.mark.parametrize("as_json", [False, True], ids=["dict", "json-string"])
def test_market_job_with_an_https_input_drops_the_signed_query(as_json):
    job_input: Any = {
        "prompt": "a cat surfing at https://example.com?ref=ignored",
        "image_urls": [f"https://cdn.example.com:8443/in/cat.png?{SIGNED}#frag"],
        "duration": "5",
    }
    op = _with_lineage(KieJobOperator)(
        task_id="kling",
        model="kling-2.6/image-to-video",
        input=json.dumps(job_input) if as_json else job_input,
    )
    op._lineage_result = clip_result(
        _record("job-9", kind=TaskKind.JOBS, model="kling-2.6/image-to-video", prompt=None)
    )

    found = _extracted(op)

    assert found == OperatorLineage(
        inputs=[Dataset(namespace="https://cdn.example.com:8443", name="in/cat.png")],
        outputs=[],  # output_dir None: nothing stored, and KIE's expiring links are no datasets
        run_facets={
            GENERATION_FACET: _facet(
                prompt=job_input["prompt"],  # from input: the operator's own prompt is None
                model="kling-2.6/image-to-video",
                taskId="job-9",
                kind="jobs",
                backend="kie",
            ),
            "externalQuery": external_query_run.ExternalQueryRunFacet(externalQueryId="job-9", source="kie"),
        },
    )
    # Nothing of the signed link reaches the event (the prompt is the DAG's text, reported as it is).
    serialized = _as_json(found)
    assert "s3cr3t" not in serialized and "AKIA" not in serialized and "frag" not in serialized


def test_object_storage_output_is_named_by_bucket_and_key(tmp_path):
    output = ObjectStoragePath("s3://clips/videos/2026-12-02", conn_id="aws_media")
    op = _with_lineage(RunwayGenerateOperator)(task_id="gen", prompt="rain", output_dir=output)
    # The lifecycle records a remote file as str(destination) (storage._publish), which carries the
    # connection id as the URL's user info: s3://aws_media@clips/videos/2026-12-02/t-3.mp4.
    files = [str(output / "t-3.mp4"), str(output / "t-3.png")]
    assert files[0].startswith("s3://aws_media@clips/")
    op._lineage_result = clip_result(_record("t-3"), files[0], files[1], files)

    found = _extracted(op)

    assert found is not None
    assert found.inputs == []  # text-to-video: no input media
    assert found.outputs == [
        Dataset(namespace="s3://clips", name="videos/2026-12-02/t-3.mp4"),
        Dataset(namespace="s3://clips", name="videos/2026-12-02/t-3.png"),
    ]
    # The names the Airflow integration gives the same path (FileTransferOperator: namespace and key), for a
    # path without a connection id (Airflow 3.1's namespace would keep the id: s3://aws_media@clips).
    same = ObjectStoragePath("s3://clips/videos/2026-12-02/t-3.mp4")
    assert (found.outputs[0].namespace, found.outputs[0].name) == (same.namespace, same.key)
    assert "aws_media" not in _as_json(found)


def test_nothing_stored_reports_no_outputs():
    op = _with_lineage(RunwayGenerateOperator)(task_id="gen", prompt="rain", output_dir=None)
    context = {"ti": mock.MagicMock(name="ti"), "outlet_events": mock.MagicMock()}
    record = _record("t-4", video_url=f"https://tempfile.kie.test/v/t-4.mp4?{SIGNED}")
    op._lineage_result = finish_clip(context, op, _fake_hook(record), record)

    found = _extracted(op)

    assert found is not None
    assert op._lineage_result["result_urls"]  # KIE did return a video...
    assert found.outputs == []  # ...which is not stored anywhere, so it is no output
    assert found.run_facets[GENERATION_FACET].taskId == "t-4"


def test_no_op_without_the_openlineage_provider(monkeypatch, tmp_path):
    image = tmp_path / "fox.png"
    image.write_bytes(b"png")
    op = _with_lineage(RunwayGenerateOperator)(task_id="gen", prompt="p", image=str(image))
    op._lineage_result = clip_result(_record("t-5"), files=[str(tmp_path / "t-5.mp4")])
    assert op.get_openlineage_facets_on_complete(None) is not None  # reports while it is installed
    # Neither the provider nor the client importable: a None in sys.modules makes `import` fail.
    for name in (
        "openlineage",
        "openlineage.client",
        "openlineage.client.facet_v2",
        "openlineage.client.event_v2",
        "airflow.providers.openlineage",
        "airflow.providers.openlineage.extractors",
    ):
        monkeypatch.setitem(sys.modules, name, None)

    assert op.get_openlineage_facets_on_start() is None
    assert op.get_openlineage_facets_on_complete(None) is None


def test_importing_the_operators_does_not_import_openlineage():
    # A subprocess: this test process has imported OpenLineage already (the imports above). Airflow's
    # providers manager reads every installed provider's metadata (``get_provider_info``, hence its package);
    # that is Airflow's doing with any provider, and imports none of OpenLineage's code.
    probe = (
        "import sys\n"
        "import airflow_provider_kie.lineage, airflow_provider_kie.operators.runway\n"
        "import airflow_provider_kie.operators.market, airflow_provider_kie.operators.veo\n"
        "import airflow_provider_kie.sensors.kie\n"
        "metadata = {'airflow.providers.openlineage', 'airflow.providers.openlineage.get_provider_info'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'openlineage'"
        " or (m.startswith('airflow.providers.openlineage') and m not in metadata)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


# -- the rest of the behaviour ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/data/in/fox.png", ("file", "/data/in/fox.png")),
        ("relative/fox.png", ("file", os.path.join(os.getcwd(), "relative/fox.png"))),
        ("file:///data/in/../in/fox.png", ("file", "/data/in/../in/fox.png")),
        ("file://nas01/share/fox.png", ("file://nas01", "/share/fox.png")),
        ("s3://bucket/a/b.mp4", ("s3://bucket", "a/b.mp4")),
        ("s3a://bucket/a/b.mp4", ("s3://bucket", "a/b.mp4")),
        ("gcs://bucket/a/b.mp4", ("gs://bucket", "a/b.mp4")),
        ("gs://bucket/a/b.mp4", ("gs://bucket", "a/b.mp4")),
        ("s3://conn_id@bucket/a.mp4", ("s3://bucket", "a.mp4")),
        ("https://user:pw@cdn.test/x/y.png?sig=1#f", ("https://cdn.test", "x/y.png")),
        ("https://cdn.test", ("https://cdn.test", "/")),
        ("data:image/png;base64,AAAA", None),
        ("   ", None),
        (None, None),
    ],
)
def test_dataset_names_follow_the_openlineage_naming_spec(location, expected):
    assert dataset_name(location) == expected


def test_dataset_name_of_an_object_storage_path_input():
    path = ObjectStoragePath("s3://raw/clips/in.mp4", conn_id="aws_in")
    assert dataset_name(path) == ("s3://raw", "clips/in.mp4")


def test_inputs_of_each_family_are_its_file_fields(tmp_path):
    local = tmp_path / "frame.png"
    local.write_bytes(b"png")
    aleph = _with_lineage(RunwayAlephOperator)(
        task_id="aleph",
        prompt="make it snow",
        video=ObjectStoragePath("s3://raw/clips/in.mp4", conn_id="aws_in"),
        reference_image=f"https://ref.test/style.png?{SIGNED}",
        seed=7,  # a parameter, not a file
    )
    veo = _with_lineage(VeoGenerateOperator)(
        task_id="veo", prompt="waves", images=["https://img.test/1.png", str(local), "https://img.test/1.png"]
    )

    aleph_found = aleph.get_openlineage_facets_on_start()
    veo_found = veo.get_openlineage_facets_on_start()

    assert aleph_found is not None and veo_found is not None
    assert aleph_found.inputs == [
        Dataset(namespace="s3://raw", name="clips/in.mp4"),
        Dataset(namespace="https://ref.test", name="style.png"),
    ]
    assert veo_found.inputs == [  # each location once
        Dataset(namespace="https://img.test", name="1.png"),
        Dataset(namespace="file", name=str(local)),
    ]


def test_start_reports_the_inputs_and_prompt_before_any_task_exists(tmp_path):
    op = _with_lineage(RunwayGenerateOperator)(
        task_id="gen", prompt="  a fox  ", image="https://img.test/a.png"
    )
    op._lineage_result = clip_result(_record("t-6"), files=[str(tmp_path / "t-6.mp4")])

    found = op.get_openlineage_facets_on_start()

    assert found == OperatorLineage(
        inputs=[Dataset(namespace="https://img.test", name="a.png")],
        outputs=[],  # a START event has no outputs, whatever an earlier call left on the task
        run_facets={GENERATION_FACET: _facet(prompt="a fox")},  # no task id, no backend known yet
    )


def test_failure_reports_inputs_without_outputs(tmp_path):
    op = _with_lineage(RunwayGenerateOperator)(task_id="gen", prompt="p", image="https://img.test/a.png")
    # A failed try returns no result; the provider asks on_complete for the FAIL event.
    found = DefaultExtractor(op).extract_on_failure(mock.MagicMock(name="task_instance"))
    assert found is not None
    assert found.inputs == [Dataset(namespace="https://img.test", name="a.png")]
    assert found.outputs == []
    assert "externalQuery" not in found.run_facets  # it failed before any submit

    op._kie_task_id = "t-12"  # it failed after its submit, waiting: the lifecycle keeps the id (on_kill)
    found = DefaultExtractor(op).extract_on_failure(mock.MagicMock(name="task_instance"))
    assert found is not None and found.outputs == []
    assert found.run_facets["externalQuery"].externalQueryId == "t-12"
    assert found.run_facets[GENERATION_FACET].taskId == "t-12"


def test_runway_api_backend_and_model():
    op = _with_lineage(RunwayGenerateOperator)(
        task_id="gen", prompt="p", kie_conn_id="runway_default", model="gen4.5"
    )
    op.__dict__["hook"] = RunwayHook("runway_default")  # the hook this try built (no connection lookup)
    assert op.get_openlineage_facets_on_start().run_facets[GENERATION_FACET] == _facet(
        prompt="p", model="gen4.5", backend="runway"
    )
    op._lineage_result = clip_result(_record("rw-1", kind=TaskKind.RUNWAY_API))

    facets = op.get_openlineage_facets_on_complete(None).run_facets

    assert facets[GENERATION_FACET].backend == "runway"
    assert facets["externalQuery"] == external_query_run.ExternalQueryRunFacet(
        externalQueryId="rw-1", source="runway"
    )


def test_submitted_only_reports_the_task_and_no_outputs():
    op = _with_lineage(RunwayGenerateOperator)(task_id="gen", prompt="p", wait_for_completion=False)
    op._lineage_result = SubmittedResult(kie_task_id="t-7", kind="runway", state="submitted")

    found = op.get_openlineage_facets_on_complete(None)

    assert found is not None and found.outputs == []
    assert found.run_facets["externalQuery"].externalQueryId == "t-7"


def test_sensor_reports_the_files_it_stored(tmp_path, downloads):
    sensor = _with_lineage(KieTaskSensor)(task_id="wait", kie_task_id="t-8", output_dir=str(tmp_path))
    _store(sensor, _record("t-8", video_url="https://tempfile.kie.test/v/t-8.mp4", prompt="from KIE"))

    found = _extracted(sensor)

    assert found is not None
    assert found.inputs == []  # the sensor did not submit: it knows no inputs
    assert found.outputs == [Dataset(namespace="file", name=str(tmp_path / "t-8.mp4"))]
    assert found.run_facets[GENERATION_FACET].prompt == "from KIE"  # the record's prompt


def test_the_facet_carries_no_connection_secret(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KIE_DEFAULT", json.dumps({"conn_type": "kie", "password": "sk-live-SECRET"})
    )
    op = _with_lineage(RunwayGenerateOperator)(task_id="gen", prompt="p", callback_url="https://hook.test/x")
    op._lineage_result = clip_result(_record("t-9"), files=[str(tmp_path / "t-9.mp4")])

    serialized = _as_json(op.get_openlineage_facets_on_complete(None))

    assert "sk-live-SECRET" not in serialized
    assert "hook.test" not in serialized  # the callback URL is where KIE reports, not an input
    assert json.loads(serialized)[-2]["_schemaURL"].startswith("https://openlineage.io/")


# -- the wiring: the task keeps the result it returned ---------------------------------------------------


def _succeeded_event(record: TaskRecord) -> dict[str, Any]:
    return {"status": "succeeded", "kie_task_id": record.task_id, "record": record.to_dict()}


def test_the_operator_keeps_the_result_it_returns():
    record = _record("t-10", video_url="https://tempfile.kie.test/v/t-10.mp4")
    op = _with_lineage(RunwayGenerateOperator)(task_id="gen", prompt="p", deferrable=True)
    op.__dict__["hook"] = _fake_hook(record)
    context = {"ti": mock.MagicMock(name="ti"), "outlet_events": mock.MagicMock()}

    result = op.execute_complete(context, _succeeded_event(record))

    assert op._lineage_result == result
    assert op.get_openlineage_facets_on_complete(None).run_facets["externalQuery"].externalQueryId == "t-10"


def test_the_sensor_keeps_the_result_it_returns():
    record = _record("t-11", video_url="https://tempfile.kie.test/v/t-11.mp4")
    sensor = _with_lineage(KieTaskSensor)(task_id="wait", kie_task_id="t-11", deferrable=True)
    sensor.__dict__["hook"] = _fake_hook(record)
    context = {"ti": mock.MagicMock(name="ti"), "outlet_events": mock.MagicMock()}

    result = sensor.execute_complete(context, _succeeded_event(record))

    assert sensor._lineage_result == result
