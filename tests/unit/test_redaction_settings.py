"""The redaction names AssemblyAI documents, and the checks that refuse any other before a request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.redaction_settings import (
    PII_POLICIES,
    SDK_ONLY_PII_POLICIES,
    SPEC_PII_POLICIES,
    check_audio_options,
    check_audio_quality,
    check_substitution,
    parse_names,
    unknown_policies_error,
    unlisted_policies,
)


def test_the_known_policies_are_the_spec_and_the_sdk_united() -> None:
    assert len(SPEC_PII_POLICIES) == 44  # openapi.yml 1.3.4, PiiPolicy
    assert len(SDK_ONLY_PII_POLICIES) == 21  # assemblyai 1.8.2 adds these
    assert not SPEC_PII_POLICIES & SDK_ONLY_PII_POLICIES
    assert len(PII_POLICIES) == 65
    assert {"phone_number", "person_name", "location_zip", "medical_code", "gender"} <= PII_POLICIES
    assert all(name == name.strip().lower() for name in PII_POLICIES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("person_name, Phone_Number ,", ["person_name", "phone_number"]),
        ('["PERSON_NAME", "person_name"]', ["person_name"]),
        (("phone_number",), ["phone_number"]),
    ],
)
def test_names_are_read_from_a_list_a_json_list_or_a_comma_text(value: object, expected: list[str]) -> None:
    assert parse_names(value, field="f") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (7, "f must be a list of policy names, got int"),
        ('["a"', "is not a JSON list"),
        (["a", 3], "only policy"),
    ],
)
def test_names_of_the_wrong_type_are_refused(value: object, message: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=message):
        parse_names(value, field="f")


def test_unlisted_policies_are_those_neither_documented_nor_allowed() -> None:
    names = ["person_name", "pet_name", "shoe_size"]
    assert unlisted_policies(names) == ["pet_name", "shoe_size"]
    assert unlisted_policies(names, ["pet_name"]) == ["shoe_size"]
    assert unlisted_policies(names, ["pet_name"], ("shoe_size",)) == []


def test_the_policy_error_names_the_closest_names_and_both_places_to_allow() -> None:
    message = str(unknown_policies_error(["phone_numbr", "zzz"], conn_id="calls"))
    assert "'phone_numbr' (did you mean 'phone_number'?)" in message
    assert "'zzz'." in message  # no suggestion when nothing is close
    assert "allow_unlisted_pii_policies=['phone_numbr', 'zzz']" in message
    assert "allowed_pii_policies of connection 'calls'" in message


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (check_substitution, "entity_type", r"got 'entity_type' \(did you mean 'entity_name'\?\)"),
        (check_substitution, 5, "redact_pii_sub must be 'hash' or 'entity_name', got 5"),
        (check_audio_quality, "mp4", r"got 'mp4' \(did you mean 'mp3'\?\)"),
        (check_audio_quality, "flac", r"redact_pii_audio_quality must be 'mp3' or 'wav', got 'flac'\.$"),
        (check_audio_options, {"return_redacted_no_speech": True}, "mean 'return_redacted_no_speech_audio'"),
        (check_audio_options, {"override_audio_redaction_method": "silent"}, "did you mean 'silence'"),
        (check_audio_options, {"override_audio_redaction_method": "beep"}, "must be 'silence', got 'beep'"),
        (check_audio_options, {"return_redacted_no_speech_audio": "yes"}, "must be True or False"),
        (check_audio_options, ["silence"], "redact_pii_audio_options must be a dict"),
    ],
)  # fmt: skip
def test_an_unknown_value_is_refused_with_the_closest_known_one(
    check: Any, value: object, message: str
) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=message):
        check(value)


def test_known_values_are_returned_in_assemblyais_spelling() -> None:
    assert check_substitution(" Entity_Name ") == "entity_name"
    assert check_substitution(None) is None
    assert check_audio_quality("WAV") == "wav"
    assert check_audio_quality(None) == "mp3"
    options = {"override_audio_redaction_method": "Silence", "return_redacted_no_speech_audio": True}
    assert check_audio_options(options) == {
        "override_audio_redaction_method": "silence",
        "return_redacted_no_speech_audio": True,
    }


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, ()),
        ({"allowed_pii_policies": ""}, ()),
        ({"allowed_pii_policies": "pet_name, Shoe_Size"}, ("pet_name", "shoe_size")),
        ({"allowed_pii_policies": ["pet_name"]}, ("pet_name",)),
        ({"extra__assemblyai__allowed_pii_policies": '["pet_name"]'}, ("pet_name",)),
    ],
)
def test_the_connection_extra_lists_the_allowed_policies(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], expected: tuple[str, ...]
) -> None:
    body = {"conn_type": "assemblyai", "password": "k", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", json.dumps(body))
    assert AssemblyAIHook().settings.allowed_pii_policies == expected


def test_a_malformed_connection_extra_names_the_connection_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"conn_type": "assemblyai", "password": "k", "extra": {"allowed_pii_policies": "[pet_name"}}
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", json.dumps(body))
    with pytest.raises(
        AssemblyAIInvalidInputError,
        match="Connection 'assemblyai_default': extra field 'allowed_pii_policies'",
    ):
        _ = AssemblyAIHook().settings
