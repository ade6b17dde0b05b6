"""The sensor in a real Airflow DAG run (``dag.test()``, SQLite) against the emulator, in every mode."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests.support import REDACT, WAV, set_env

MODES = [
    pytest.param({"mode": "poke"}, id="poke"),
    pytest.param({"mode": "reschedule"}, id="reschedule"),
    pytest.param({"deferrable": True}, id="deferrable"),
]


pytestmark = pytest.mark.usefixtures("assemblyai_connection")


SensorRun = Callable[..., tuple[str, Any]]


@pytest.fixture
def run_sensor(airflow_metadata_db: Path) -> SensorRun:
    """Return a function that runs a one-task DAG with the sensor: ``(final state, XCom)``."""

    def run(transcript_id: str, **sensor_kwargs: Any) -> tuple[str, Any]:
        return _run_sensor(run_dag_test, transcript_id, **sensor_kwargs)

    return run


def _run_sensor(run_dag: Callable[..., Any], transcript_id: str, **sensor_kwargs: Any) -> tuple[str, Any]:
    with DAG(
        f"sensor_{uuid.uuid4().hex[:8]}", schedule=None, start_date=pendulum.datetime(2025, 1, 1)
    ) as dag:
        AssemblyAIRedactedAudioSensor(
            task_id="wait",
            transcript_id=transcript_id,
            poke_interval=0.1,
            **{"timeout": 30, "deferrable": False, "retries": 2, **sensor_kwargs},
        )
    dag_run = run_dag(dag)
    ti = dag_run.get_task_instance("wait")
    return str(ti.state), ti.xcom_pull(task_ids="wait")


@pytest.mark.parametrize("mode", MODES)
def test_waits_then_returns_id_and_format(
    run_sensor: SensorRun, assemblyai_emulator: Emulator, mode: dict[str, Any]
) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=Faults(render_polls=2))
    state, xcom = run_sensor(tid, **mode)
    assert state == "success"
    assert xcom == {"transcript_id": tid, "audio_format": "wav"}
    assert assemblyai_emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio") >= 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "seed",
    [
        pytest.param({"status": "error", "faults": Faults(error="Audio is silent")}, id="failed"),
        pytest.param({"params": {"redact_pii": False}}, id="not-requested"),
        pytest.param({"expire": True}, id="expired"),
    ],
)
def test_final_errors_fail_at_once_without_retries(
    run_sensor: SensorRun, assemblyai_emulator: Emulator, mode: dict[str, Any], seed: dict[str, Any]
) -> None:
    seed = dict(seed)
    expire = seed.pop("expire", False)
    tid = assemblyai_emulator.add_transcript(**{"params": REDACT, **seed})
    if expire:
        assemblyai_emulator.expire(tid)
    state, _ = run_sensor(tid, **mode)
    assert state == "failed"
    transcript_reads = [r for r in assemblyai_emulator.requests if r.path == f"/v2/transcript/{tid}"]
    assert len(transcript_reads) == 1  # no task retry, no second poll


@pytest.mark.parametrize("mode", MODES)
def test_unknown_transcript_and_wrong_key_fail(
    run_sensor: SensorRun,
    assemblyai_emulator: Emulator,
    mode: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_sensor("never-known", **mode)[0] == "failed"
    tid = assemblyai_emulator.add_transcript(params=REDACT)
    set_env(
        monkeypatch, assemblyai_connection_env(api_key="wrong-key", base_url=assemblyai_emulator.base_url)
    )
    assert run_sensor(tid, **mode)[0] == "failed"


# Where an outcome is found: the mode, and for a deferrable sensor whether its first, inline poke
# finds it or the trigger does after the deferral.
WHERE = {
    "poke": {"mode": "poke"},
    "reschedule": {"mode": "reschedule"},
    "deferred-first-poke": {"deferrable": True},
    "deferred-trigger": {"deferrable": True},
}
FLAGS = {"plain": {}, "soft_fail": {"soft_fail": True}, "never_fail": {"never_fail": True}}
# The final state per outcome, flag and WHERE column, as docs/failures.md tabulates it (checked below).
# A timeout is never found by the first inline poke (None): a deferred wait times out in the trigger.
# fmt: off
OUTCOMES = {
    ("final error", "plain"):      ("failed",  "failed",  "failed",  "failed"),
    ("final error", "soft_fail"):  ("skipped", "skipped", "skipped", "skipped"),
    ("final error", "never_fail"): ("skipped", "skipped", "skipped", "skipped"),
    ("timeout", "plain"):          ("failed",  "failed",  None,      "failed"),
    ("timeout", "soft_fail"):      ("skipped", "skipped", None,      "skipped"),
    ("timeout", "never_fail"):     ("failed",  "failed",  None,      "skipped"),
}
# fmt: on
OUTCOME_CELLS = [
    (outcome, flag, where, state)
    for (outcome, flag), states in OUTCOMES.items()
    for where, state in zip(WHERE, states, strict=True)
    if state is not None
]


@pytest.mark.parametrize(
    ("outcome", "flag", "where", "expected"),
    [pytest.param(*cell, id="-".join(cell[:3]).replace(" ", "-")) for cell in OUTCOME_CELLS],
)
def test_soft_fail_and_never_fail_outcomes(
    run_sensor: SensorRun, assemblyai_emulator: Emulator, outcome: str, flag: str, where: str, expected: str
) -> None:
    if outcome == "timeout":
        tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
        first_reads = None
    elif where == "deferred-first-poke":
        tid = assemblyai_emulator.add_transcript(status="error", params=REDACT)
        first_reads = 1  # the first poll already sees the failed transcript
    else:
        # The first poll spends its retry budget (2 attempts) on 503s and counts as "not yet";
        # the next poll finds the transcript failed: a later poke reads it, while the trigger's
        # shared poller sees it failed, with its error text, in the list, without reading it.
        tid = assemblyai_emulator.add_transcript(
            status="error", params=REDACT, faults=Faults(api_errors=[503, 503])
        )
        first_reads = 2 if where == "deferred-trigger" else 3
    state, _ = run_sensor(tid, timeout=1, retries=0, **FLAGS[flag], **WHERE[where])
    assert state == expected
    reads = [r for r in assemblyai_emulator.requests if r.path == f"/v2/transcript/{tid}"]
    lists = [
        r for r in assemblyai_emulator.requests if r.path == "/v2/transcript"
    ]  # the trigger's shared poller
    if first_reads is None:
        # It asked again before timing out: a poke, or the trigger's list or last look.
        assert len(reads) + len(lists) >= 2
    else:
        assert len(reads) == first_reads


def test_the_docs_tabulate_exactly_these_outcomes() -> None:
    page = (Path(__file__).parents[3] / "docs" / "failures.md").read_text(encoding="utf-8")
    section = page.split("## soft_fail and never_fail on the sensor", 1)[1].split("\n\n")
    table = next(block for block in section if block.startswith("| outcome"))
    rows = [line.strip("| ").split(" | ") for line in table.splitlines()]
    documented = {
        (outcome, flag.strip("`").replace("neither", "plain")): tuple(
            None if state == "—" else state for state in states
        )
        for outcome, flag, *states in rows[2:]
    }
    assert documented == OUTCOMES


# A failed transcript's text as AssemblyAI words it, carrying the user's pre-signed audio_url.
SIGNATURE = "5e1f0c0ffee0ddba11f00d5ca1ab1e5eed0fbead5e1f0c0ffee0ddba11f00d5c"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"
PRESIGNED = (
    "https://uploads.s3.amazonaws.com/calls/caller-jane-doe.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=ASIAEXAMPLEKEY42%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
    f"&X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SIGNATURE}"
)
DOWNLOAD_ERROR = f"Download error, unable to download {PRESIGNED}"
SECRET_PARTS = (SIGNATURE, TOKEN, "ASIAEXAMPLEKEY42", "caller-jane-doe", "X-Amz-")


def test_a_failed_transcripts_presigned_url_never_reaches_the_exception_or_logs(
    run_sensor: SensorRun,
    assemblyai_emulator: Emulator,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tid = assemblyai_emulator.add_transcript(
        status="error", params=REDACT, faults=Faults(error=DOWNLOAD_ERROR)
    )
    state, _ = run_sensor(tid, mode="poke", retries=0)
    assert state == "failed"
    logs = "".join(capfd.readouterr()) + caplog.text
    # The task log holds the exception's text: AssemblyAI's words, the URL cut to its origin.
    assert "Download error, unable to download https://uploads.s3.amazonaws.com/***" in logs
    assert [part for part in SECRET_PARTS if part in logs] == []


def test_an_id_rendered_from_a_misspelled_xcom_pull_fails_before_any_request(
    run_sensor: SensorRun, assemblyai_emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    state, _ = run_sensor("{{ ti.xcom_pull(task_ids='transcirbe') }}", mode="poke")
    assert state == "failed"
    assert assemblyai_emulator.requests == []  # "None" was never sent as a transcript id
    logs = "".join(capfd.readouterr())
    assert "transcript_id rendered to 'None'" in logs
    assert "task_ids" in logs


@pytest.mark.parametrize("mode", MODES)
def test_malformed_id_fails_before_any_request_whatever_never_fail_says(
    run_sensor: SensorRun, assemblyai_emulator: Emulator, mode: dict[str, Any]
) -> None:
    other = assemblyai_emulator.add_transcript(params=REDACT)
    state, _ = run_sensor("{{ 'x/../' }}" + other, never_fail=True, **mode)
    assert state == "failed"
    assert not assemblyai_emulator.requests  # the other transcript was never reached


def test_id_is_checked_after_templating(run_sensor: SensorRun, assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT, faults=Faults(render_polls=1))
    # Rendered on execute and again on resume; the spaces around it are trimmed both times.
    state, xcom = run_sensor(" {{ '" + tid + "' }} ", deferrable=True)
    assert (state, xcom) == ("success", {"transcript_id": tid, "audio_format": "mp3"})


def test_passing_faults_never_fail_a_poke(run_sensor: SensorRun, assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT, faults=Faults(api_errors=[503] * 4))
    state, xcom = run_sensor(tid, retries=0)
    assert state == "success"
    assert xcom["transcript_id"] == tid


def test_deferrable_sensor_skips_deferral_when_already_ready(
    run_sensor: SensorRun, assemblyai_emulator: Emulator
) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT)
    state, xcom = run_sensor(tid, deferrable=True)
    assert (state, xcom) == ("success", {"transcript_id": tid, "audio_format": "mp3"})
    assert assemblyai_emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio") == 1
