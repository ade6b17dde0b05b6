"""The transfer's former name still works and warns; resolving a target changes no argument."""

from __future__ import annotations

from typing import Any, cast

import pytest
from airflow.exceptions import AirflowProviderDeprecationWarning
from airflow.sdk import Context, ObjectStoragePath

from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)
from tests.support import WAV, s3_client


def test_the_s3_name_is_a_deprecated_alias_that_still_archives(
    assemblyai_connection: Emulator, s3_bucket: str, local_s3_endpoint: str
) -> None:
    from airflow_assemblyai.transfers.redacted_audio_to_s3 import AssemblyAIRedactedAudioToS3Operator

    tid = assemblyai_connection.add_transcript(params=WAV)

    with pytest.warns(
        AirflowProviderDeprecationWarning, match="AssemblyAIRedactedAudioToObjectStorageOperator"
    ):
        operator = AssemblyAIRedactedAudioToS3Operator(
            task_id="archive", transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"
        )

    assert isinstance(operator, AssemblyAIRedactedAudioToObjectStorageOperator)
    assert operator.execute(cast("Context", {})) == f"s3://{s3_bucket}/a.wav"
    body = s3_client(local_s3_endpoint).get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read()
    assert body == assemblyai_connection.redacted_audio(tid)


def test_the_new_name_does_not_warn(recwarn: Any) -> None:
    AssemblyAIRedactedAudioToObjectStorageOperator(task_id="archive", transcript_id="t", s3_key="s3://b/k")

    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_an_s3_destination_with_its_own_connection_leaves_aws_conn_id_as_given() -> None:
    operator = AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive",
        transcript_id="t-1",
        destination=ObjectStoragePath("s3://aws_archive@bucket-1/calls/a.wav"),
    )

    [target] = operator.get_openlineage_facets_on_complete(None).outputs

    assert (target.namespace, target.name) == ("s3://bucket-1", "calls/a.wav")
    assert operator.aws_conn_id == "aws_default"
    assert operator.s3_hook.aws_conn_id == "aws_archive"
