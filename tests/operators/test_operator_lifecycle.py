"""The operators' decisions, with KIE replaced by a mocked client: deferral, resume, backoff, events."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from unittest import mock

import pytest
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

from airflow_provider_kie._compat import AirflowException, AirflowFailException, TaskDeferred
from airflow_provider_kie.client import (
    KieClient,
    KieInsufficientCreditsError,
    KieRateLimitError,
    KieServerError,
    KieSubmitOutcomeUnknownError,
    KieTaskNotFoundError,
    PollPolicy,
    TaskKind,
    TaskRecord,
    TaskState,
)
from airflow_provider_kie.exceptions import KieClipFailedException, KieWaitException
from airflow_provider_kie.hooks.kie import KieConnectionSettings
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY
from airflow_provider_kie.lifecycle.load import LOAD_BACKOFF
from airflow_provider_kie.operators.base import FIRST_POLL_AFTER_SUBMIT
from airflow_provider_kie.operators.runway import (
    RunwayAlephOperator,
    RunwayExtendOperator,
    RunwayGenerateOperator,
)
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger


class FakeStateStore:
    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.data = dict(initial or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def _record(task_id: str, state: TaskState, raw: str = "", **kw: Any) -> TaskRecord:
    return TaskRecord(
        task_id=task_id, kind=kw.pop("kind", TaskKind.RUNWAY), state=state, raw_state=raw or state.value, **kw
    )


@pytest.fixture
def client(mocker):
    fake = mock.MagicMock(name="KieClient")
    fake.runway_generate.return_value = "new-task"
    fake.runway_extend.return_value = "ext-task"
    fake.aleph_generate.return_value = "aleph-task"
    # The real upload step, over the fake's upload calls.
    fake.upload_files.side_effect = lambda request, folder: KieClient.upload_files(fake, request, folder)
    mocker.patch("airflow_provider_kie.hooks.kie.KieHook.get_conn", return_value=fake)
    # The connection's own settings (its min_credits floor: none), without a connection to look up.
    mocker.patch(
        "airflow_provider_kie.hooks.kie.KieHook.settings",
        KieConnectionSettings(api_key="k", base_url="https://kie.test", upload_base_url="u", timeout=None),
    )
    return fake


@pytest.fixture
def context():
    ti = mock.MagicMock(name="ti")
    return {"ti": ti, "task_state_store": FakeStateStore(), "outlet_events": mock.MagicMock()}


def _generate(**kw: Any) -> RunwayGenerateOperator:
    params = {
        "task_id": "gen",
        "prompt": "a fox at dawn",
        "deferrable": True,
        "poll_interval": 7,
        "timeout": 600,
    }
    params.update(kw)
    return RunwayGenerateOperator(**params)


def test_submit_then_defer_to_the_trigger_with_primitives_only(client, context):
    op = _generate()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, RunwayTaskTrigger)
    assert deferred.value.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_kie.triggers.runway.RunwayTaskTrigger"
    assert kwargs["kie_task_id"] == "new-task"
    assert kwargs["kind"] == "runway"
    assert kwargs["poll_interval"] == 7
    assert all(isinstance(v, (str, int, float, type(None))) for v in kwargs.values())
    # The id is saved before waiting, for durable resume and for downstream tasks.
    assert context["task_state_store"].data[STATE_STORE_KEY] == "new-task"
    context["ti"].xcom_push.assert_any_call(key="kie_task_id", value="new-task")
    request = client.runway_generate.call_args.args[0]
    assert request.to_payload()["aspectRatio"] == "16:9"


def test_validation_fails_before_any_request(client, context):
    op = _generate(duration=10, quality="1080p")
    with pytest.raises(AirflowFailException, match="quality: 1080p is only available with duration 5"):
        op.execute(context)
    assert client.method_calls == []


def test_missing_local_image_is_named(client, context, tmp_path):
    op = _generate(image=str(tmp_path / "missing.png"))
    with pytest.raises(AirflowFailException, match="image: must be an https:// URL or an existing file"):
        op.execute(context)
    assert client.method_calls == []


def test_local_image_is_uploaded_then_used(client, context, tmp_path):
    image = tmp_path / "product.png"
    image.write_bytes(b"\x89PNG fake")
    client.upload_file.return_value = mock.Mock(download_url="https://uploads.example/product.png")
    with pytest.raises(TaskDeferred):
        _generate(image=str(image), aspect_ratio=None).execute(context)
    assert client.upload_file.call_args.args[0] == str(image)
    assert client.runway_generate.call_args.args[0].image_url == "https://uploads.example/product.png"


def _ti(run_id: str, map_index: int = -1, try_number: int = 1) -> mock.MagicMock:
    ti = mock.MagicMock(name="ti", run_id=run_id, map_index=map_index, try_number=try_number)
    return ti


def test_overlapping_runs_upload_their_inputs_to_folders_of_their_own(client, tmp_path):
    # A backfill beside the scheduled run, mapped instances and retries each upload under their own folder:
    # a shared folder let one run's image replace the other's before KIE fetched it (issue 11).
    image = tmp_path / "product.png"
    image.write_bytes(b"\x89PNG fake")
    client.upload_file.return_value = mock.Mock(download_url="https://uploads.example/product.png")
    tis = [
        _ti("scheduled__2026-12-01T00:00:00+00:00"),
        _ti("backfill__2026-12-01T00:00:00+00:00"),
        _ti("scheduled__2026-12-01T00:00:00+00:00", map_index=3),
        _ti("scheduled__2026-12-01T00:00:00+00:00", try_number=2),
    ]
    for ti in tis:
        with pytest.raises(TaskDeferred):
            _generate(image=str(image), aspect_ratio=None).execute(
                {"ti": ti, "task_state_store": FakeStateStore()}
            )
    folders = [c.args[1] for c in client.upload_file.call_args_list]
    assert len(set(folders)) == len(tis), folders
    assert all(folder.startswith("airflow/adhoc_airflow/gen/") for folder in folders), folders


@pytest.mark.parametrize("state", [TaskState.PENDING, TaskState.RUNNING])
def test_retry_reconnects_to_a_live_task_without_paying_again(client, context, state):
    context["task_state_store"].set(STATE_STORE_KEY, "old-task")
    client.get_task.return_value = _record("old-task", state)
    with pytest.raises(TaskDeferred) as deferred:
        _generate().execute(context)
    assert deferred.value.trigger.kie_task_id == "old-task"
    client.runway_generate.assert_not_called()


def test_retry_finishes_a_task_that_already_succeeded(client, context):
    context["task_state_store"].set(STATE_STORE_KEY, "done-task")
    client.get_task.return_value = _record("done-task", TaskState.SUCCEEDED, video_url="https://x/v.mp4")
    result = _generate().execute(context)
    assert result["kie_task_id"] == "done-task"
    assert result["state"] == "succeeded"
    client.runway_generate.assert_not_called()


def test_retry_resubmits_after_a_failed_task(client, context):
    context["task_state_store"].set(STATE_STORE_KEY, "failed-task")
    client.get_task.return_value = _record("failed-task", TaskState.FAILED, fail_msg="moderation")
    with pytest.raises(TaskDeferred) as deferred:
        _generate().execute(context)
    assert deferred.value.trigger.kie_task_id == "new-task"
    assert context["task_state_store"].data[STATE_STORE_KEY] == "new-task"


def test_retry_resubmits_when_kie_does_not_know_the_saved_task(client, context):
    context["task_state_store"].set(STATE_STORE_KEY, "ghost")
    client.get_task.side_effect = KieTaskNotFoundError(
        "recordInfo is null", code=422, http_status=200, endpoint="/x"
    )
    with pytest.raises(TaskDeferred):
        _generate().execute(context)
    client.runway_generate.assert_called_once()


def test_retry_never_submits_when_the_saved_task_cannot_be_checked(client, context):
    context["task_state_store"].set(STATE_STORE_KEY, "unknown")
    client.get_task.side_effect = KieServerError("boom", code=500, http_status=500, endpoint="/x")
    with pytest.raises(AirflowException, match="Could not check KIE task unknown"):
        _generate().execute(context)
    client.runway_generate.assert_not_called()


def test_rate_limit_defers_a_timed_backoff_instead_of_failing(client, context):
    client.runway_generate.side_effect = KieRateLimitError(
        "slow down", code=429, http_status=429, endpoint="/g"
    )
    with pytest.raises(TaskDeferred) as deferred:
        _generate().execute(context)
    assert isinstance(deferred.value.trigger, TimeDeltaTrigger)
    assert deferred.value.method_name == "resume_submit"
    assert deferred.value.kwargs["attempt"] == 2
    assert STATE_STORE_KEY not in context["task_state_store"].data


def test_the_backoff_waits_at_least_as_long_as_kie_asked(client, context):
    client.runway_generate.side_effect = KieRateLimitError(
        "slow down", code=429, http_status=429, endpoint="/g", retry_after=40.0
    )
    started = datetime.now(timezone.utc)
    with pytest.raises(TaskDeferred) as deferred:
        _generate().execute(context)
    wait = (deferred.value.trigger.moment - started).total_seconds()
    # KIE's figure plus jitter on top (at most LOAD_BACKOFF.jitter of it, plus a second for the test's own
    # run time); not the first backoff's 7.5-15 s.
    assert 40.0 <= wait <= 40.0 * (1 + LOAD_BACKOFF.jitter) + 1.0


def test_the_operators_client_sleeps_in_the_worker_only_for_short_retry_afters(mocker):
    # The real client with the operators' submit policy: a long Retry-After comes back as a rate-limit
    # error at once (so a deferrable task waits in the triggerer), a short one is slept and resent.
    import httpx

    from airflow_provider_kie.client import DEFAULT_SUBMIT_RETRY as SUBMIT_RETRY
    from airflow_provider_kie.client import KieClient, RunwayGenerateRequest

    assert _generate().hook.submit_retry is None  # so the client applies DEFAULT_SUBMIT_RETRY
    sleep = mocker.patch("airflow_provider_kie.client.sync_client.time.sleep")

    def kie(retry_after: str) -> tuple[KieClient, list[httpx.Request]]:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if len(seen) == 1:
                return httpx.Response(
                    429, headers={"Retry-After": retry_after}, json={"code": 429, "msg": "busy"}
                )
            return httpx.Response(200, json={"code": 200, "msg": "success", "data": {"taskId": "t-ok"}})

        transport = httpx.MockTransport(handler)
        return KieClient(
            "sk-x", base_url="http://kie.test", transport=transport, submit_retry=SUBMIT_RETRY
        ), seen

    request = RunwayGenerateRequest(prompt="a kite", duration=5, quality="720p", aspect_ratio="16:9")
    long_wait, seen = kie("30")
    with pytest.raises(KieRateLimitError) as refused:
        long_wait.runway_generate(request)
    assert len(seen) == 1
    assert refused.value.retry_after == 30.0
    sleep.assert_not_called()

    short_wait, seen = kie("2")
    assert short_wait.runway_generate(request) == "t-ok"
    assert len(seen) == 2
    assert 2.0 <= sleep.call_args.args[0] <= 2.5


def test_rate_limit_budget_is_bounded(client, context):
    client.runway_generate.side_effect = KieRateLimitError(
        "slow down", code=429, http_status=429, endpoint="/g"
    )
    op = _generate(rate_limit_timeout=1)
    with pytest.raises(AirflowException, match="kept refusing new clips"):
        op.execute(context)


def test_resume_submit_after_backoff_submits_again(client, context):
    with pytest.raises(TaskDeferred) as deferred:
        _generate().resume_submit(context, event=None, attempt=2, first_try_at=0)
    assert deferred.value.trigger.kie_task_id == "new-task"


def test_non_deferrable_rate_limit_sleeps_then_submits(client, context, mocker):
    sleep = mocker.patch("airflow_provider_kie.operators.base.time.sleep")
    client.runway_generate.side_effect = [
        KieRateLimitError("slow down", code=429, http_status=429, endpoint="/g"),
        "second-try",
    ]
    client.wait_for_task.return_value = _record(
        "second-try", TaskState.SUCCEEDED, video_url="https://x/v.mp4"
    )
    client.get_task.return_value = client.wait_for_task.return_value
    result = _generate(deferrable=False).execute(context)
    assert result["kie_task_id"] == "second-try"
    assert sleep.call_count == 1
    assert 7.5 <= sleep.call_args.args[0] <= 15


def test_unknown_submit_outcome_fails_without_retry(client, context):
    cause = KieServerError("upstream", code=500, http_status=502, endpoint="/g")
    client.runway_generate.side_effect = KieSubmitOutcomeUnknownError("/g", cause)
    with pytest.raises(AirflowFailException, match="resubmit_on_unknown_outcome"):
        _generate().execute(context)


def test_unknown_submit_outcome_may_be_retried_when_allowed(client, context):
    cause = KieServerError("upstream", code=500, http_status=502, endpoint="/g")
    client.runway_generate.side_effect = KieSubmitOutcomeUnknownError("/g", cause)
    with pytest.raises(AirflowException) as raised:
        _generate(resubmit_on_unknown_outcome=True).execute(context)
    assert not isinstance(raised.value, AirflowFailException)


def test_other_kie_refusals_are_clear_airflow_errors(client, context):
    client.runway_generate.side_effect = KieInsufficientCreditsError(
        "no credits", code=402, http_status=200, endpoint="/g"
    )
    with pytest.raises(AirflowException, match="402"):
        _generate().execute(context)


def test_no_wait_returns_right_after_the_submit(client, context):
    result = _generate(wait_for_completion=False).execute(context)
    assert result == {"kie_task_id": "new-task", "kind": "runway", "state": "submitted"}


# -- execute_complete: every event kind ---------------------------------------------------------------------
def _event(status: str, **payload: Any) -> dict[str, Any]:
    return {"status": status, "kie_task_id": "t1", "kind": "runway", **payload}


def test_execute_complete_success_returns_the_result(client, context):
    record = _record("t1", TaskState.SUCCEEDED, video_url="https://x/v.mp4", cover_url="https://x/c.png")
    client.get_task.return_value = record
    result = _generate().execute_complete(context, _event("succeeded", record=record.to_dict()))
    assert result["video_url"] == "https://x/v.mp4"
    assert result["video_path"] is None  # no output_dir configured
    context["ti"].xcom_push.assert_any_call(key="_link_KieVideoLink", value="https://x/v.mp4")


def test_execute_complete_stores_a_clip_whose_local_input_is_not_on_this_worker(client, context, tmp_path):
    # The deferral callback may run on another worker, where the uploaded image's path does not exist: it only
    # stores the finished clip, so it must not validate (and fail on) the submit's inputs.
    record = _record("t1", TaskState.SUCCEEDED, video_url="https://x/v.mp4")
    client.get_task.return_value = record
    op = _generate(image=str(tmp_path / "only-on-the-submitting-worker.png"), aspect_ratio=None)
    result = op.execute_complete(context, _event("succeeded", record=record.to_dict()))
    assert result["state"] == "succeeded"


def test_execute_complete_failure_carries_kies_reason(client, context):
    record = _record("t1", TaskState.FAILED, fail_code="400", fail_msg="Content policy violation")
    with pytest.raises(KieClipFailedException, match="Content policy violation") as raised:
        _generate().execute_complete(context, _event("failed", record=record.to_dict()))
    assert raised.value.fail_code == "400"


def test_execute_complete_concurrency_cap_resubmits_after_backoff(client, context):
    record = _record("t1", TaskState.FAILED, fail_msg="Reached the limit for concurrent generations")
    with pytest.raises(TaskDeferred) as deferred:
        _generate().execute_complete(
            context, _event("failed", record=record.to_dict()), attempt=1, first_try_at=None
        )
    assert isinstance(deferred.value.trigger, TimeDeltaTrigger)
    assert deferred.value.method_name == "resume_submit"


def test_execute_complete_timeout_and_error(client, context):
    with pytest.raises(KieWaitException, match="Timed out waiting for KIE task t1"):
        _generate().execute_complete(context, _event("timeout", last_state="generating", waited=600))
    with pytest.raises(KieWaitException, match="KieAuthError: bad key"):
        _generate().execute_complete(context, _event("error", message="bad key", error_type="KieAuthError"))
    with pytest.raises(KieWaitException):
        _generate().execute_complete(context, None)


# -- the other operators -------------------------------------------------------------------------------------
def test_extend_takes_the_task_id_from_an_upstream_result(client, context):
    op = RunwayExtendOperator(task_id="ext", source={"kie_task_id": "parent"}, prompt="more", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    assert client.runway_extend.call_args.args[0].task_id == "parent"
    assert deferred.value.trigger.kie_task_id == "ext-task"


def test_extend_without_a_source_is_rejected_before_any_request(client, context):
    op = RunwayExtendOperator(task_id="ext", source="", prompt="more")
    with pytest.raises(AirflowFailException, match="source: must be the id of a succeeded KIE task"):
        op.execute(context)
    assert client.method_calls == []


def test_aleph_waits_on_the_aleph_endpoint(client, context):
    op = RunwayAlephOperator(
        task_id="aleph", video="https://x/in.mp4", prompt="oil painting", aspect_ratio="21:9", deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    assert deferred.value.trigger.kind == "aleph"
    assert client.aleph_generate.call_args.args[0].to_payload()["aspectRatio"] == "21:9"


def test_templated_fields_cover_the_parameters():
    assert {"prompt", "duration", "quality", "aspect_ratio", "image", "output_dir", "output_name"} <= set(
        RunwayGenerateOperator.template_fields
    )
    assert {"source", "prompt", "quality"} <= set(RunwayExtendOperator.template_fields)
    assert {"video", "prompt", "seed", "reference_image"} <= set(RunwayAlephOperator.template_fields)


@pytest.mark.parametrize("setting", ["True", "False"])
def test_deferrable_defaults_to_the_airflow_setting(setting):
    # The default is read from [operators] default_deferrable when the module is imported.
    import os
    import subprocess
    import sys

    code = (
        "from airflow_provider_kie.operators.runway import RunwayGenerateOperator as G;"
        "from airflow_provider_kie.sensors.runway import RunwayTaskSensor as S;"
        "print(G(task_id='g', prompt='p').deferrable, S(task_id='s', kie_task_id='t').deferrable)"
    )
    env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": setting}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split()[-2:] == [setting, setting]


@pytest.mark.parametrize("bad", ["soon", "0", "-5"])
def test_a_bad_rendered_poll_interval_fails_before_any_request(client, context, bad):
    with pytest.raises(AirflowFailException, match="poll_interval: must be a positive number"):
        _generate(poll_interval=bad).execute(context)
    assert client.method_calls == []


def test_a_rendered_poll_interval_reaches_the_trigger(client, context):
    with pytest.raises(TaskDeferred) as deferred:
        _generate(poll_interval="2.5").execute(context)
    assert deferred.value.trigger.poll_interval == 2.5


@pytest.mark.parametrize("unset", [None, "None", "", " null "])
def test_an_unset_poll_interval_makes_the_trigger_follow_kies_phases(client, context, unset):
    # None, or what "{{ params.poll_interval }}" renders for a null Param, means the phase-following default.
    with pytest.raises(TaskDeferred) as deferred:
        _generate(poll_interval=unset).execute(context)
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["poll_interval"] is None
    assert trigger.poll_policy() == PollPolicy(first_poll_after=FIRST_POLL_AFTER_SUBMIT)
    assert trigger.poll_policy().interval is None


def test_the_default_poll_interval_is_phase_following_in_trigger_sensor_and_worker(client, context):
    from airflow_provider_kie.sensors.runway import RunwayTaskSensor

    op = RunwayGenerateOperator(task_id="gen", prompt="a fox", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    assert deferred.value.trigger.poll_interval is None

    client.get_task.return_value = _record("t1", TaskState.RUNNING, "generating")
    sensor = RunwayTaskSensor(task_id="wait", kie_task_id="t1", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    assert deferred.value.trigger.poll_interval is None

    client.wait_for_task.return_value = _record("new-task", TaskState.SUCCEEDED, video_url="https://x/v.mp4")
    client.get_task.return_value = client.wait_for_task.return_value
    context["task_state_store"] = FakeStateStore()  # a new task: nothing to resume
    RunwayGenerateOperator(task_id="gen2", prompt="a fox", deferrable=False).execute(context)
    assert client.wait_for_task.call_args.kwargs["poll"] == PollPolicy(
        first_poll_after=FIRST_POLL_AFTER_SUBMIT
    )


def test_a_fixed_poll_interval_polls_at_that_pace_in_the_worker(client, context):
    client.wait_for_task.return_value = _record("new-task", TaskState.SUCCEEDED, video_url="https://x/v.mp4")
    client.get_task.return_value = client.wait_for_task.return_value
    _generate(deferrable=False, poll_interval="4").execute(context)
    assert client.wait_for_task.call_args.kwargs["poll"] == PollPolicy(interval=4.0, first_poll_after=4.0)


@pytest.mark.parametrize(("poll_interval", "expected"), [(None, 5.0), (2, 2.0), (30, 5.0)])
def test_the_first_check_after_a_submit_waits_a_little(client, context, poll_interval, expected):
    # No clip succeeds within seconds; an event right after the deferral can race Airflow's bookkeeping.
    assert expected <= FIRST_POLL_AFTER_SUBMIT
    with pytest.raises(TaskDeferred) as deferred:
        _generate(poll_interval=poll_interval).execute(context)
    assert deferred.value.trigger.first_poll_after == expected


def test_a_reconnect_checks_at_once(client, context):
    context["task_state_store"].set(STATE_STORE_KEY, "earlier-task")
    client.get_task.return_value = _record("earlier-task", TaskState.RUNNING, "generating")
    with pytest.raises(TaskDeferred) as deferred:
        _generate(poll_interval=None).execute(context)
    assert deferred.value.trigger.kie_task_id == "earlier-task"
    assert deferred.value.trigger.first_poll_after == 0.0
    client.runway_generate.assert_not_called()


@pytest.mark.parametrize(
    "source",
    [
        "parent",
        {"kie_task_id": "parent", "state": "succeeded"},
        "{'kie_task_id': 'parent', 'state': 'succeeded', 'video_path': None}",  # rendered Python literal
        '{"kie_task_id": "parent", "state": "succeeded"}',  # rendered JSON
    ],
)
def test_extend_source_forms(client, context, source):
    with pytest.raises(TaskDeferred):
        RunwayExtendOperator(task_id="ext", source=source, prompt="more", deferrable=True).execute(context)
    assert client.runway_extend.call_args.args[0].task_id == "parent"


@pytest.mark.parametrize("bad", ["soon", "0"])
def test_sensor_rejects_a_bad_rendered_poll_interval(client, context, bad):
    from airflow_provider_kie.sensors.runway import RunwayTaskSensor

    sensor = RunwayTaskSensor(task_id="wait", kie_task_id="t1", poll_interval=bad, deferrable=True)
    with pytest.raises(AirflowFailException, match="poll_interval: must be a positive number"):
        sensor.execute(context)
    assert client.method_calls == []


def test_without_a_task_state_store_a_retry_warns_that_it_submits_afresh(client):
    # Airflow < 3.3 has no task_state_store: the documented fallback is a new submit, said in the log.
    from airflow_provider_kie.lifecycle.durable import earlier_task

    log = mock.Mock()
    assert earlier_task({"ti": mock.MagicMock(try_number=2)}, client, TaskKind.RUNWAY, log) is None
    assert "no task_state_store" in log.warning.call_args.args[0]
    log.reset_mock()
    assert earlier_task({"ti": mock.MagicMock(try_number=1)}, client, TaskKind.RUNWAY, log) is None
    log.warning.assert_not_called()
    client.get_task.assert_not_called()
