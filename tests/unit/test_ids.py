from __future__ import annotations

import pytest

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.ids import validate_transcript_id


@pytest.mark.parametrize(
    "value", ["9ea68fd3-f953-42c1-9742-976c447fb463", "5551722-f677-48a6-9287-39c0aafd9ac1", "abc_DEF-123"]
)
def test_real_id_shapes_are_accepted(value: str) -> None:
    assert validate_transcript_id(f"  {value}\n") == value


@pytest.mark.parametrize(
    "value",
    [
        "x/../9ea68fd3-f953-42c1-9742-976c447fb463",
        "a b",
        "id?x=1",
        "id#frag",
        "%2e%2e",
        "a.b",
        "ü",
        "a" * 129,
    ],
)
def test_path_steering_or_odd_ids_are_refused_with_the_field_name(value: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=r"^transcript_id .* is not an AssemblyAI"):
        validate_transcript_id(value)


@pytest.mark.parametrize("value", ["", "   ", None, 42])
def test_empty_or_non_string_ids_are_refused(value: object) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match="transcript_id is empty"):
        validate_transcript_id(value)


def test_the_hook_refuses_a_steering_id_before_reading_any_connection() -> None:
    # No connection "nowhere" exists: reaching the network (or the connection) would raise another error.
    hook = AssemblyAIHook("nowhere")
    for call in (hook.get_transcript, hook.get_redacted_audio, hook.delete_transcript):
        with pytest.raises(AssemblyAIInvalidInputError, match="not an AssemblyAI transcript id"):
            call("x/../other")


@pytest.mark.parametrize("value", ["None", " None ", "null", "NONE"])
def test_an_id_rendered_from_a_missing_xcom_names_the_template_mistake(value: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError) as info:
        validate_transcript_id(value)
    message = str(info.value)
    assert message.startswith("transcript_id rendered to ")
    assert "xcom_pull" in message
    assert "task_ids" in message


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_id_names_the_template_mistake_too(value: object) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match="transcript_id is empty") as info:
        validate_transcript_id(value)
    assert "task_ids" in str(info.value)


def test_the_hook_refuses_a_none_id_before_reading_any_connection() -> None:
    hook = AssemblyAIHook("nowhere")
    for call in (hook.get_transcript, hook.get_redacted_audio, hook.delete_transcript):
        with pytest.raises(AssemblyAIInvalidInputError, match="xcom_pull"):
            call("None")
