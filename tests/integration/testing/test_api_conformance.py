"""What the provider sends and what the emulator answers hold to AssemblyAI's documented shapes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator, Faults
from tests.integration.api_rules import (
    ERROR,
    REDACTED_AUDIO_READY,
    REQUEST_PATHS,
    SUBMISSION,
    TRANSCRIPT,
    TRANSCRIPT_LIST,
    UPLOAD,
    check,
)
from tests.support import REDACT


def assert_provider_traffic_conforms(emulator: Emulator) -> None:
    """Check every submission body and every API request path the emulator saw."""
    assert emulator.submissions, "no submission was captured"
    for body in emulator.submissions:
        assert check(body, SUBMISSION) == []
    api = [r for r in emulator.requests if r.kind == "api"]
    assert api
    for request in api:
        allowed = REQUEST_PATHS.get(request.method, [])
        assert any(re.fullmatch(p, request.path) for p in allowed), f"{request.method} {request.path}"


@pytest.fixture
def client(assemblyai_emulator: Emulator) -> httpx.Client:
    return httpx.Client(
        base_url=assemblyai_emulator.base_url, headers={"Authorization": assemblyai_emulator.api_key}
    )


def test_each_operator_sends_what_the_spec_documents(assemblyai_connection: Emulator, tmp_path: Path) -> None:
    emulator = assemblyai_connection
    emulator.next_faults = Faults(processing_seconds=0)
    source = tmp_path / "call.wav"
    source.write_bytes(synth_wav(seconds=2.0))
    by_url = AssemblyAITranscribeOperator(
        task_id="by_url",
        audio_url=emulator.sample_audio_url,
        redact_pii_policies=["person_name", "phone_number"],
        redact_pii_sub="entity_name",
        redact_pii_audio_quality="wav",
        redact_pii_audio_options={"return_redacted_no_speech_audio": True},
        webhook_url="https://hooks.example.invalid/done",
        transcript_params={"speaker_labels": True, "language_code": "en_us"},
    ).execute({})  # type: ignore[arg-type]
    by_path = AssemblyAITranscribeOperator(
        task_id="by_path", audio_path=str(source), redact_pii_policies="person_name"
    ).execute({})  # type: ignore[arg-type]
    for tid in (by_url, by_path):
        poked = AssemblyAIRedactedAudioSensor(task_id="wait", transcript_id=tid, poke_interval=0.1)
        assert poked.poke({})  # type: ignore[arg-type]
        AssemblyAIDeleteTranscriptOperator(task_id="delete", transcript_id=tid).execute({})  # type: ignore[arg-type]
    assert len(emulator.submissions) == 2
    assert_provider_traffic_conforms(emulator)


def test_transcripts_in_every_state_have_the_spec_shape(
    assemblyai_emulator: Emulator, client: httpx.Client
) -> None:
    ids = {
        "queued": assemblyai_emulator.add_transcript(status="queued", params=REDACT),
        "processing": assemblyai_emulator.add_transcript(status="processing", params=REDACT),
        "completed": assemblyai_emulator.add_transcript(params=REDACT),
        "diarized": assemblyai_emulator.add_transcript(params={**REDACT, "speaker_labels": True}),
        "error": assemblyai_emulator.add_transcript(status="error", params=REDACT),
    }
    bodies = {name: client.get(f"/v2/transcript/{tid}").json() for name, tid in ids.items()}
    for name, body in bodies.items():
        assert check(body, TRANSCRIPT) == [], name
    assert "error" not in bodies["completed"]  # a string when present, never null
    assert bodies["completed"]["words"][0]["speaker"] is None  # no diarization asked
    assert bodies["diarized"]["words"][0]["speaker"] == "A"
    assert bodies["completed"]["speech_model_used"] == "universal-3-5-pro"
    deleted = client.delete(f"/v2/transcript/{ids['completed']}").json()
    assert check(deleted, TRANSCRIPT) == []


def test_other_answers_have_the_spec_shape(assemblyai_emulator: Emulator, client: httpx.Client) -> None:
    ready = assemblyai_emulator.add_transcript(params=REDACT)
    assert check(client.get(f"/v2/transcript/{ready}/redacted-audio").json(), REDACTED_AUDIO_READY) == []
    assert check(client.post("/v2/upload", content=b"RIFF....").json(), UPLOAD) == []
    unknown = client.get("/v2/transcript/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 400
    assert check(unknown.json(), ERROR) == []
    refused = httpx.get(f"{assemblyai_emulator.base_url}/v2/transcript", headers={"Authorization": "wrong"})
    assert refused.status_code == 401
    assert check(refused.json(), ERROR) == []


def test_the_list_pages_newest_first_with_working_links(
    assemblyai_emulator: Emulator, client: httpx.Client
) -> None:
    created = [assemblyai_emulator.add_transcript(params=REDACT) for _ in range(5)]
    assemblyai_emulator.add_transcript(status="error", params=REDACT)
    newest_first = created[::-1]

    first = client.get("/v2/transcript", params={"limit": 2, "status": "completed"}).json()
    assert check(first, TRANSCRIPT_LIST) == []
    seen = [t["id"] for t in first["transcripts"]]
    page = first
    while page["page_details"]["prev_url"]:
        page = client.get(page["page_details"]["prev_url"]).json()
        assert check(page, TRANSCRIPT_LIST) == []
        seen += [t["id"] for t in page["transcripts"]]
    assert seen == newest_first  # every completed one once, newest first, the error filtered out
    back = client.get(page["page_details"]["next_url"]).json()  # newer than the oldest page
    assert [t["id"] for t in back["transcripts"]] == newest_first[2:4]
    assert first["page_details"]["next_url"] is None  # nothing newer matches the filter


@pytest.mark.parametrize("limit", [0, 201])
def test_the_list_refuses_a_limit_outside_1_to_200(client: httpx.Client, limit: int) -> None:
    answer = client.get("/v2/transcript", params={"limit": limit})
    assert answer.status_code == 400
    assert check(answer.json(), ERROR) == []


def test_the_rules_catch_what_the_api_refuses() -> None:
    """The checks are not vacuous: the shapes 0.1.0 sent and answered are violations."""
    assert check({"audio_url": "https://x.invalid/a.wav", **REDACT}, SUBMISSION)  # no speech_models
    assert check(
        {"audio_url": "https://x", "speech_models": ["universal-2"], "speech_model": "best"}, SUBMISSION
    )
    assert check({"audio_url": "https://x", "speech_models": ["u"], "shoe_size": 4}, SUBMISSION)
    old = json.loads('{"id": "0123456789abcdef0123456789abcdef", "status": "completed", "error": null}')
    violations = "\n".join(check(old, TRANSCRIPT))
    for field in ("'speech_model' is a required", "'webhook_auth' is a required", "is not a 'uuid'"):
        assert field in violations
    assert "None is not of type 'string'" in violations  # "error": null
