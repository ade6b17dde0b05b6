"""The suite's warning filters: the provider's own deprecations fail the test, others only show."""

from __future__ import annotations

import warnings

import pytest


def warn_from(module: str) -> None:
    warnings.warn_explicit("this is going away", DeprecationWarning, "somewhere.py", 1, module=module)


def test_a_deprecation_warned_from_the_provider_is_an_error() -> None:
    with pytest.raises(DeprecationWarning, match="this is going away"):
        warn_from("airflow_assemblyai.hooks.assemblyai")


def test_a_deprecation_warned_from_airflow_still_shows() -> None:
    with pytest.warns(DeprecationWarning, match="this is going away"):
        warn_from("airflow.models.connection")
