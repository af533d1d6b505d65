"""Task records: Runway states, Aleph successFlag, jobs states, unknown states, and the record's fields."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_kie.client import KieResponseError, TaskKind, TaskRecord, TaskState
from airflow_provider_kie.client.records import parse_record

RECORDS_LOGGER = "airflow_provider_kie.client.records"


def runway(**data: Any) -> TaskRecord:
    return parse_record(TaskKind.RUNWAY, {"taskId": "rw-1", **data}, endpoint="/api/v1/runway/record-detail")


def aleph(**data: Any) -> TaskRecord:
    return parse_record(TaskKind.ALEPH, {"taskId": "al-1", **data}, endpoint="/api/v1/aleph/record-info")


def jobs(**data: Any) -> TaskRecord:
    return parse_record(TaskKind.JOBS, {"taskId": "jb-1", **data}, endpoint="/api/v1/jobs/recordInfo")


RUNWAY_SUCCESS = {
    "taskId": "rw-1",
    "parentTaskId": "",
    "generateParam": {"prompt": "a red fox", "imageUrl": "", "expandPrompt": True},
    "state": "success",
    "generateTime": "2025-06-01 10:00:00",
    "videoInfo": {
        "videoId": "vid-9",
        "taskId": "rw-1",
        "videoUrl": "https://file.kie.example/rw-1.mp4",
        "imageUrl": "https://file.kie.example/rw-1.jpg",
    },
    "failCode": "",
    "failMsg": "",
    "expireFlag": 0,
}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("wait", TaskState.PENDING),
        ("queueing", TaskState.PENDING),
        ("generating", TaskState.RUNNING),
        ("success", TaskState.SUCCEEDED),
        ("fail", TaskState.FAILED),
    ],
)
def test_runway_states(state: str, expected: TaskState, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=RECORDS_LOGGER):
        record = runway(state=state)
    assert record.state is expected
    assert record.raw_state == state
    assert record.kind is TaskKind.RUNWAY
    assert record.is_terminal is (expected in (TaskState.SUCCEEDED, TaskState.FAILED))
    assert caplog.records == []


@pytest.mark.parametrize("state", ["paused", "SUCCESS", "", None])
def test_runway_unknown_state_is_running_and_logged(state: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=RECORDS_LOGGER):
        record = runway(state=state)
    assert record.state is TaskState.RUNNING
    assert record.is_terminal is False
    assert record.raw_state == (state or "")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage() == (
        f"KIE task rw-1 reports unknown state {state or ''!r}; treating it as still running"
    )


def test_runway_success_record_fields() -> None:
    record = parse_record(TaskKind.RUNWAY, RUNWAY_SUCCESS, endpoint="/x")
    assert record == TaskRecord(
        task_id="rw-1",
        kind=TaskKind.RUNWAY,
        state=TaskState.SUCCEEDED,
        raw_state="success",
        video_url="https://file.kie.example/rw-1.mp4",
        cover_url="https://file.kie.example/rw-1.jpg",
        video_id="vid-9",
        parent_task_id=None,
        fail_code=None,
        fail_msg=None,
        expired=False,
        created_at="2025-06-01 10:00:00",
        prompt="a red fox",
        result_urls=("https://file.kie.example/rw-1.mp4",),
    )


@pytest.mark.parametrize(("fail_code", "expected"), [(400, "400"), ("400", "400"), (0, "0"), ("", None)])
def test_runway_fail_code_int_or_string(fail_code: Any, expected: str | None) -> None:
    record = runway(state="fail", failCode=fail_code, failMsg="Content moderation")
    assert record.fail_code == expected
    assert record.fail_msg == "Content moderation"
    assert record.state is TaskState.FAILED


@pytest.mark.parametrize(
    ("flag", "expired"), [(1, True), ("1", True), (0, False), ("0", False), (None, False)]
)
def test_runway_expire_flag(flag: Any, expired: bool) -> None:
    assert runway(state="success", expireFlag=flag).expired is expired


def test_runway_parent_task_id_for_extensions() -> None:
    assert runway(state="generating", parentTaskId="rw-0").parent_task_id == "rw-0"
    assert runway(state="generating").parent_task_id is None


def test_runway_null_nested_objects() -> None:
    record = runway(state="generating", videoInfo=None, generateParam=None)
    assert record.video_url is None
    assert record.prompt is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"successFlag": 1}, TaskState.SUCCEEDED),
        ({"successFlag": "1"}, TaskState.SUCCEEDED),
        ({"successFlag": 0, "errorMessage": "Video too large"}, TaskState.FAILED),
        ({"successFlag": 0, "errorMessage": ""}, TaskState.RUNNING),
        ({"successFlag": 0, "errorMessage": None}, TaskState.RUNNING),
        ({"successFlag": 0}, TaskState.RUNNING),
        ({"successFlag": 2}, TaskState.FAILED),
        ({"successFlag": 3}, TaskState.FAILED),
        ({"successFlag": "3"}, TaskState.FAILED),
        ({}, TaskState.RUNNING),
    ],
)
def test_aleph_success_flag(data: dict[str, Any], expected: TaskState) -> None:
    record = aleph(**data)
    assert record.state is expected
    assert record.kind is TaskKind.ALEPH
    assert record.raw_state == f"successFlag={data.get('successFlag')}"


def test_aleph_record_fields() -> None:
    record = aleph(
        successFlag=1,
        paramJson=json.dumps({"prompt": "make it snow", "videoUrl": "https://x/in.mp4"}),
        response={
            "taskId": "al-1",
            "resultVideoUrl": "https://file.kie.example/al-1.mp4",
            "resultImageUrl": "https://file.kie.example/al-1.jpg",
        },
        createTime="2025-06-01T10:00:00Z",
        completeTime="2025-06-01T10:05:00Z",
        errorCode=None,
        errorMessage=None,
        expireFlag=1,
    )
    assert record.video_url == "https://file.kie.example/al-1.mp4"
    assert record.cover_url == "https://file.kie.example/al-1.jpg"
    assert record.prompt == "make it snow"
    assert record.created_at == "2025-06-01T10:00:00Z"
    assert record.completed_at == "2025-06-01T10:05:00Z"
    assert record.expired is True
    assert record.fail_code is None


def test_aleph_failure_keeps_code_and_message() -> None:
    record = aleph(successFlag=0, errorCode=500, errorMessage="Video too large")
    assert record.state is TaskState.FAILED
    assert record.fail_code == "500"
    assert record.fail_msg == "Video too large"


@pytest.mark.parametrize("param_json", ["not json", "[1, 2]", "", None, {"prompt": "dict, not a string"}])
def test_aleph_bad_param_json_is_tolerated(param_json: Any) -> None:
    record = aleph(successFlag=0, paramJson=param_json)
    assert record.prompt is None
    assert record.state is TaskState.RUNNING


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("waiting", TaskState.PENDING),
        ("queuing", TaskState.PENDING),
        ("generating", TaskState.RUNNING),
        ("success", TaskState.SUCCEEDED),
        ("fail", TaskState.FAILED),
    ],
)
def test_jobs_states(state: str, expected: TaskState) -> None:
    record = jobs(state=state)
    assert record.state is expected
    assert record.kind is TaskKind.JOBS


def test_jobs_unknown_state_is_running_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=RECORDS_LOGGER):
        record = jobs(state="paused")
    assert record.state is TaskState.RUNNING
    assert "unknown state 'paused'" in caplog.text


def test_jobs_result_json_and_failure_fields() -> None:
    record = jobs(
        state="success",
        resultJson=json.dumps({"resultUrls": ["https://file.kie.example/a.mp4", "https://x/b.mp4"]}),
        createTime=1750000000000,
        completeTime=1750000090000,
    )
    assert record.video_url == "https://file.kie.example/a.mp4"
    assert record.created_at == "1750000000000"
    assert record.completed_at == "1750000090000"
    failed = jobs(state="fail", failCode=422, failMsg="bad input")
    assert (failed.fail_code, failed.fail_msg, failed.video_url) == ("422", "bad input", None)


@pytest.mark.parametrize(
    "result_json", ["", None, "{", "[1]", json.dumps({"resultUrls": []}), json.dumps({"other": 1}), "3"]
)
def test_jobs_bad_result_json_is_tolerated(result_json: Any) -> None:
    assert jobs(state="success", resultJson=result_json).video_url is None


@pytest.mark.parametrize("data", [None, [], "text", {"state": "success"}, {"taskId": ""}])
@pytest.mark.parametrize("kind", list(TaskKind))
def test_record_without_task_id_is_a_response_error(data: Any, kind: TaskKind) -> None:
    with pytest.raises(KieResponseError) as info:
        parse_record(kind, data, endpoint="/api/v1/runway/record-detail", http_status=200)
    assert info.value.http_status == 200
    assert "a task record without a taskId" in str(info.value)


def test_to_dict_from_dict_round_trip() -> None:
    record = parse_record(TaskKind.RUNWAY, {**RUNWAY_SUCCESS, "parentTaskId": "rw-0"}, endpoint="/x")
    data = record.to_dict()
    assert data["kind"] == "runway"
    assert data["state"] == "succeeded"
    assert json.loads(json.dumps(data)) == data
    assert TaskRecord.from_dict(json.loads(json.dumps(data))) == record
    for kind, state in [(TaskKind.ALEPH, TaskState.FAILED), (TaskKind.JOBS, TaskState.PENDING)]:
        other = TaskRecord(task_id="t", kind=kind, state=state, raw_state="x", fail_code="7", expired=True)
        assert TaskRecord.from_dict(other.to_dict()) == other


@pytest.mark.parametrize(
    ("state", "msg", "expected"),
    [
        ("fail", "Reached the limit for concurrent generations", True),
        ("fail", "reached the LIMIT FOR CONCURRENT GENERATIONS.", True),
        ("fail", "Content moderation", False),
        ("fail", None, False),
        ("generating", "Reached the limit for concurrent generations", False),
    ],
)
def test_hit_concurrency_limit(state: str, msg: str | None, expected: bool) -> None:
    assert runway(state=state, failMsg=msg).hit_concurrency_limit is expected


def test_task_state_terminal() -> None:
    assert [s for s in TaskState if s.is_terminal] == [TaskState.SUCCEEDED, TaskState.FAILED]


@pytest.mark.parametrize("junk", ["", [], "null", 0])
def test_non_object_nested_fields_read_as_empty(junk: Any) -> None:
    runway = parse_record(
        TaskKind.RUNWAY,
        {"taskId": "t", "state": "success", "videoInfo": junk, "generateParam": junk},
        endpoint="/x",
    )
    assert (runway.video_url, runway.prompt) == (None, None)
    aleph = parse_record(TaskKind.ALEPH, {"taskId": "t", "successFlag": 1, "response": junk}, endpoint="/x")
    assert aleph.video_url is None
