"""Checks of rendered operator parameters, and the DAG Param the sample DAGs share for poll_interval."""

from __future__ import annotations

import pytest
from airflow.sdk import DAG

try:
    from airflow.sdk.exceptions import ParamValidationError
except ImportError:  # Airflow 3.1
    from airflow.exceptions import ParamValidationError  # type: ignore[no-redef]

from airflow_provider_kie._compat import AirflowFailException
from airflow_provider_kie.params import optional_positive_seconds, poll_interval_param


@pytest.mark.parametrize(
    ("given", "expected"), [(None, None), ("", None), ("None", None), ("2.5", 2.5), (4, 4.0)]
)
def test_optional_positive_seconds(given, expected):
    assert optional_positive_seconds("poll_interval", given) == expected


@pytest.mark.parametrize("bad", ["soon", "0", -1, "nan-ish"])
def test_optional_positive_seconds_names_the_parameter_and_the_rule(bad):
    with pytest.raises(AirflowFailException, match=r"poll_interval: must be a positive number of seconds"):
        optional_positive_seconds("poll_interval", bad)


def test_the_poll_interval_param_is_empty_by_default_and_takes_positive_numbers():
    param = poll_interval_param()
    assert param.resolve(None) is None
    assert param.resolve(12) == 12
    with pytest.raises(ParamValidationError):
        param.resolve(0)


def test_an_empty_param_renders_to_what_the_operators_read_as_unset():
    with DAG("params_render", schedule=None, params={"poll_interval": poll_interval_param()}) as dag:
        pass
    rendered = dag.params.validate()["poll_interval"]
    assert optional_positive_seconds("poll_interval", str(rendered)) is None
