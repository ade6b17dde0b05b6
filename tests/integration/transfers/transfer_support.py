"""What the transfer's integration tests share: the operator, its S3 calls, the emulator's requests."""

from __future__ import annotations

from typing import Any, cast

from airflow.sdk import Context

from airflow_assemblyai.testing.emulator import Emulator, RecordedRequest
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

MiB = 1024 * 1024


#: With one part held in memory, reading part N+2 waits until part N was uploaded: a failure while
#: reading the third part therefore always comes after an UploadPart, however loaded the machine is.
ONE_PART_IN_MEMORY: dict[str, Any] = {"transfer_config_args": {"max_in_memory_upload_chunks": 1}}


def transfer(**kwargs: Any) -> AssemblyAIRedactedAudioToObjectStorageOperator:
    return AssemblyAIRedactedAudioToObjectStorageOperator(task_id="copy_redacted_audio", **kwargs)


def run(operator: AssemblyAIRedactedAudioToObjectStorageOperator) -> str:
    return operator.execute(cast("Context", {}))


def record_s3_calls(operator: AssemblyAIRedactedAudioToObjectStorageOperator) -> list[str]:
    """Record the name of every S3 API call the operator's client makes."""
    calls: list[str] = []
    operator.s3_hook.get_conn().meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name)
    )
    return calls


def downloads(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.kind == "download"]


def redacted_audio_calls(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.kind == "api" and r.path.endswith("/redacted-audio"))


def uploads_left(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


def assert_aborted_mid_upload(calls: list[str], s3: Any, bucket: str, key: str) -> None:
    """Assert parts were uploaded, then the upload aborted: no object, no unfinished upload."""
    assert "UploadPart" in calls
    assert "AbortMultipartUpload" in calls
    assert "CompleteMultipartUpload" not in calls
    assert not object_exists(s3, bucket, key)
    assert uploads_left(s3, bucket) == []
