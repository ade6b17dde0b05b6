"""Build your own batch DAG: list recordings, plan what to submit, resume or purge, and report.

The example ``dags/example_assemblyai_redacted_audio_batch.py`` wires these helpers into tasks;
docs/batches.md#batch-dag explains the run. The rules they keep:

- **Source:** a local directory or an object-storage prefix (``s3://bucket/prefix/``, read through
  a connection; S3 sources need ``s3fs``). Files with an audio suffix are recordings; symbolic links
  (files or folders) are skipped with a warning, so nothing outside the source is sent.
- **Archive key:** ``key_prefix`` + the recording's path relative to the source + ``.redacted.`` +
  the audio format (:func:`archive_key`), known before anything is submitted and unchanged when the
  folder moves. A recording whose archive exists is skipped: no second submission, no second bill.
- **Submission marker** (``<archive key>.submission.json``, :data:`MARKER_SUFFIX`): the transcribe
  task claims it before its request and records the transcript id after it, so a later run resumes
  a recording whose wait or archive failed and refuses one whose answer was lost. It is removed once
  the transcript is purged (:func:`summarize`); an archived recording that still has one is purged by
  the next run (:func:`find_unpurged`).
- **At most ``[core] max_map_length`` recordings** to submit per run; more are refused before
  anything is sent.

Only source paths and keys are returned (they travel in XCom): never a pre-signed URL.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from airflow_assemblyai.archive.location import archive_uri, parse_archive_uri
from airflow_assemblyai.exceptions import AssemblyAIFinalError, AssemblyAIInvalidInputError
from airflow_assemblyai.operators.submission import SubmissionMarker

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Context

#: The pool that caps concurrent uploads, submissions and transfers (create it: docs/batches.md#batch-dag).
POOL = "assemblyai"
#: The suffixes (lower case) of the files taken for recordings.
AUDIO_SUFFIXES = frozenset(
    {".aac", ".amr", ".flac", ".m4a", ".mov", ".mp3", ".mp4", ".ogg", ".opus", ".wav", ".webm", ".wma"}
)
#: Appended to a recording's archive key to name its submission marker.
MARKER_SUFFIX = ".submission.json"
#: The task group that handles one recording, and its tasks in order.
GROUP = "recording"
RECORDING_TASKS = ("transcribe", "wait", "archive", "delete")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchPlan:
    """What one run does with the recordings under its source."""

    #: One entry per recording to submit or resume: ``audio_path``, ``s3_key`` and ``marker`` (an
    #: ``s3://`` URI), the keyword arguments of the per-recording task group.
    todo: list[dict[str, Any]] = field(default_factory=list)
    #: Archive keys of recordings archived before whose transcript was never purged (a marker is left).
    unpurged: list[str] = field(default_factory=list)
    #: How many recordings were archived before (and are skipped).
    skipped: int = 0


def archive_key(key_prefix: str, relative_path: str, audio_format: str) -> str:
    """Return the archive key of a recording: from its path under the source, never a transcript id."""
    return f"{key_prefix}{relative_path}.redacted.{audio_format}"


def open_source(source: str, conn_id: str | None) -> tuple[ObjectStoragePath, str | None]:
    """Return the source's root and, for a local directory, its path; raise when it is not one.

    :param source: an absolute local directory (``/calls`` or ``file:///calls``) or an
        object-storage prefix (``s3://bucket/prefix/``).
    :param conn_id: the connection an object-storage source is read through.
    """
    source = source.strip()
    if "://" not in source and not source.startswith("/"):
        raise AssemblyAIInvalidInputError(
            f"The source param {source!r} is neither an absolute local directory nor a URL: pass "
            "/path/to/recordings or s3://bucket/prefix/."
        )
    local_dir = (
        None if "://" in source and not source.startswith("file://") else source.removeprefix("file://")
    )
    if local_dir is None:
        root = ObjectStoragePath(source, conn_id=conn_id or None)
    else:
        root = ObjectStoragePath(f"file://{local_dir}")
    if not root.is_dir():
        raise AssemblyAIInvalidInputError(f"The source {source!r} is not a directory or prefix that exists.")
    return root, local_dir


def list_recordings(root: ObjectStoragePath, local_dir: str | None) -> list[tuple[str, ObjectStoragePath]]:
    """Return ``(path relative to the source, path)`` of each recording, sorted; symbolic links are skipped.

    :param local_dir: the source's local path (from :func:`open_source`): it is walked without ever
        following a link; None lists ``root`` in object storage.
    """
    if local_dir is None:
        found = (p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        return sorted((str(PurePosixPath(p.path).relative_to(root.path)), p) for p in found)
    recordings = []
    for folder, dirs, files in os.walk(local_dir):  # never descends into a linked folder
        for name in dirs + files:
            path = os.path.join(folder, name)
            audio = os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES
            if os.path.islink(path):
                if audio or name in dirs:
                    log.warning("Skipped %s: a symbolic link (the source listing never follows one).", path)
            elif audio and name in files and os.path.isfile(path):
                relative = PurePosixPath(os.path.relpath(path, local_dir)).as_posix()
                recordings.append((relative, ObjectStoragePath(f"file://{path}")))
    return sorted(recordings, key=lambda item: item[0])


def plan_recordings(
    recordings: Sequence[tuple[str, ObjectStoragePath]],
    existing_keys: Collection[str],
    *,
    bucket: str,
    key_prefix: str,
    audio_format: str,
) -> BatchPlan:
    """Split the recordings by what the archive already holds (``existing_keys``, under ``key_prefix``).

    A recording without an archive is to submit (or resume, when its marker holds an id); one with an
    archive is skipped, and listed in ``unpurged`` when its marker is still there.
    """
    todo: list[dict[str, Any]] = []
    unpurged: list[str] = []
    for relative, path in recordings:
        key = archive_key(key_prefix, relative, audio_format)
        if key not in existing_keys:
            marker = archive_uri(bucket, key + MARKER_SUFFIX)
            todo.append({"audio_path": path, "s3_key": key, "marker": marker})
        elif key + MARKER_SUFFIX in existing_keys:
            unpurged.append(key)
    return BatchPlan(todo=todo, unpurged=unpurged, skipped=len(recordings) - len(todo))


def plan_batch(
    source: str,
    *,
    source_conn_id: str | None,
    bucket: str,
    key_prefix: str,
    audio_format: str,
    aws_conn_id: str | None = "aws_default",
) -> BatchPlan:
    """List the recordings under ``source`` and the archive in ``bucket``; return the run's plan.

    :raises AssemblyAIInvalidInputError: the source is not a directory or prefix that exists, or more
        recordings are to submit than ``[core] max_map_length`` mapped tasks (nothing is sent then).
    """
    from airflow.sdk import conf

    root, local_dir = open_source(source, source_conn_id)
    recordings = list_recordings(root, local_dir)
    existing = set(s3_hook(aws_conn_id).list_keys(bucket_name=bucket, prefix=key_prefix))
    plan = plan_recordings(
        recordings, existing, bucket=bucket, key_prefix=key_prefix, audio_format=audio_format
    )
    limit = conf.getint("core", "max_map_length", fallback=1024)
    if len(plan.todo) > limit:
        raise AssemblyAIInvalidInputError(
            f"{len(plan.todo):,} recordings under {source.strip()} are not archived yet: more than the "
            f"{limit:,} mapped tasks one run may hold ([core] max_map_length). Nothing was "
            "submitted. Split the source into smaller prefixes (one run each, key_prefix extended by the "
            "same sub-path so the archive keys stay the same), or raise max_map_length."
        )
    log.info(
        "%d recordings: %d to archive, %d archived before", len(recordings), len(plan.todo), plan.skipped
    )
    return plan


def find_unpurged(bucket: str, archive_keys: Iterable[str]) -> list[dict[str, str]]:
    """Return ``transcript_id`` (from its marker) and ``archive_uri`` of each archive never purged.

    The result is the keyword arguments of a mapped delete task, which checks the archive first.
    """
    found = []
    for key in archive_keys:
        submitted = SubmissionMarker(archive_uri(bucket, key + MARKER_SUFFIX)).read()
        if submitted and submitted.transcript_id:
            found.append({"transcript_id": submitted.transcript_id, "archive_uri": archive_uri(bucket, key)})
    return found


def s3_hook(aws_conn_id: str | None = "aws_default") -> S3Hook:
    """Return an S3 hook of ``aws_conn_id`` (the Amazon provider is imported only here)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id)


def pool_exists(name: str) -> tuple[bool | None, str]:
    """Return whether the pool exists (None: nobody could say) and who answered, or why nobody could.

    The metadata database answers where the task may read it (``airflow dags test``); a task run by
    an Airflow 3 worker may not, so the API server is asked instead (``[api] base_url``).
    """
    try:
        from airflow.models.pool import Pool

        return Pool.get_pool(name) is not None, "the metadata database"
    except (RuntimeError, AttributeError):  # the Task SDK blocks direct database access
        pass
    import httpx
    from airflow.sdk import conf

    base_url = conf.get("api", "base_url", fallback=None)
    if not base_url:
        return None, "[api] base_url is not set, so the API server cannot be asked"
    url = f"{base_url.rstrip('/')}/api/v2/pools/{name}"
    try:
        answer = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        return None, f"the API server at {url} could not be reached ({type(exc).__name__})"
    found = {200: True, 404: False}.get(answer.status_code)
    if found is None:
        return None, f"{url} answered HTTP {answer.status_code} (401/403: the task may not read pools)"
    return found, f"the API server (HTTP {answer.status_code})"


def check_pool(name: str = POOL, *, enabled: bool = True) -> None:
    """Raise, naming the command that creates it, unless the pool ``name`` is shown to exist.

    Airflow leaves a task whose pool is missing queued forever, without an error.

    :param enabled: False only logs that the pool is not checked (the DAG's ``check_pool=false``).
    """
    if not enabled:
        log.warning("Not checking that the pool %r exists (check_pool=false).", name)
        return
    create = f'airflow pools set {name} 8 "AssemblyAI submissions and transfers"'
    found, source = pool_exists(name)
    if found is None:
        raise AssemblyAIFinalError(
            f"Could not check that the pool {name!r} exists: {source}. Without it the recording tasks "
            f"would wait forever. Create it ({create}) and run with check_pool=false, or let this task "
            "read pools (a database it may reach, or an API server that answers it)."
        )
    if not found:
        raise AssemblyAIFinalError(
            f"The pool {name!r} does not exist, so the recording tasks would wait forever. Create it "
            f"(its size caps concurrent uploads and transfers): {create}"
        )
    log.info("The pool %r exists (asked %s).", name, source)


def summarize(
    context: Context, group: str = GROUP, *, aws_conn_id: str | None = "aws_default"
) -> dict[str, Any]:
    """Report archived, skipped, failed and bytes from the task states; remove the markers of purged
    transcripts; raise when anything failed.

    Reads the XComs of the tasks ``plan`` (its value, ``skipped`` and ``unpurged``) and
    ``find_unpurged``, and the states of ``<group>.<task>`` (:data:`RECORDING_TASKS`) and ``purge``
    in this run; pushes the report as the XCom ``summary`` and returns it. The bucket is the run's
    param ``bucket``.

    :raises AssemblyAIFinalError: a recording failed or an archived one is not purged yet (running
        the DAG again retries exactly those).
    """
    ti, dag_run = context["ti"], context["dag_run"]
    todo = ti.xcom_pull(task_ids="plan")
    if todo is None:
        raise AssemblyAIFinalError("Nothing was submitted: check_pool or plan failed (see their logs).")
    purge = ti.xcom_pull(task_ids="find_unpurged")
    skipped = ti.xcom_pull(task_ids="plan", key="skipped") or 0
    task_ids = [f"{group}.{task_id}" for task_id in RECORDING_TASKS] + ["purge"]
    states = ti.get_task_states(dag_id=dag_run.dag_id, task_ids=task_ids, run_ids=[dag_run.run_id])
    states = states.get(dag_run.run_id, {})
    bucket = context["params"]["bucket"]
    s3 = s3_hook(aws_conn_id)
    archived, failed, not_purged, done, size = [], [], [], [], 0
    if purge is None:  # find_unpurged failed: the recordings it had to purge are not purged
        purge, not_purged = [], list(ti.xcom_pull(task_ids="plan", key="unpurged") or [])
    for index, item in enumerate(todo):
        source = str(item["audio_path"])
        state = {t: states.get(f"{group}.{t}_{index}") for t in RECORDING_TASKS}
        if state["archive"] == "success":
            archived.append(source)
            size += int((s3.head_object(item["s3_key"], bucket) or {}).get("ContentLength", 0))
            if state["delete"] == "success":
                done.append(item["s3_key"] + MARKER_SUFFIX)
            else:
                not_purged.append(source)
        else:
            failed.append(f"{source} ({', '.join(f'{t} {s}' for t, s in state.items() if s != 'success')})")
    for index, item in enumerate(purge):
        if states.get(f"purge_{index}") == "success":
            done.append(parse_archive_uri(item["archive_uri"])[1] + MARKER_SUFFIX)
        else:
            not_purged.append(item["archive_uri"])
    if done:  # nothing is left to resume or purge for these recordings
        s3.delete_objects(bucket, done)
    purged = len(purge) - sum(1 for item in purge if item["archive_uri"] in not_purged)
    report = {
        "recordings": len(todo) + skipped,
        "archived": len(archived),
        "skipped": skipped,
        "failed": len(failed),
        "bytes": size,
        "purged_skipped": purged,
        "failed_recordings": failed,
        "not_purged": not_purged,
    }
    ti.xcom_push(key="summary", value=report)
    log.info(
        "Batch: %d archived (%d bytes), %d skipped (archived before; %d purged now), %d failed",
        report["archived"],
        size,
        skipped,
        purged,
        report["failed"],
    )
    for line in failed:
        log.error("Failed: %s", line)
    for line in not_purged:
        log.error("Archived, but its transcript is not deleted yet (the next run purges it): %s", line)
    if failed or not_purged:
        raise AssemblyAIFinalError(
            f"{len(failed)} of {len(todo)} recordings failed and {len(not_purged)} archived ones are not "
            "purged yet; run the DAG again to retry them (archived recordings are skipped, submitted ones "
            "resumed without a second submission)."
        )
    return report
