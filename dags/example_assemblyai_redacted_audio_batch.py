"""Redact and archive every recording under a source location, once each, within AssemblyAI's rate limit.

``check_pool`` -> ``plan`` -> per recording (a mapped task group): ``transcribe`` -> ``wait``
(deferrable) -> ``archive`` (to S3) -> ``delete`` (at AssemblyAI); ``find_unpurged`` -> ``purge``
(mapped) beside them; ``summarize`` at the end, whatever happened before it.

- **Source:** ``source`` is a local directory or an object-storage prefix (``s3://bucket/prefix/``,
  through ``source_conn_id``; S3 sources need ``s3fs``). Files with an audio suffix are recordings;
  symbolic links (files or folders) are skipped with a warning, so nothing outside the source is sent.
- **Archive key:** ``key_prefix`` + the recording's path relative to ``source`` + ``.redacted.`` +
  ``audio_format``, so it is known before anything is submitted and survives moving the folder. A
  recording whose archive exists is skipped: no second submission, no second bill.
- **Submission marker** (``<archive key>.submission.json``, beside it): ``transcribe`` claims it right
  before its request and writes the transcript id right after, so a later run resumes a recording
  whose wait or archive failed (no new upload, no new submission) and refuses one whose answer was lost.
  The marker is removed once the transcript is purged; an archived recording that still has one (its
  delete failed) is purged by the next run. Every purge checks the archive first (``archive_uri``).
  A transcript that failed at AssemblyAI, or whose audio expired (24 h), fails again on each run:
  delete its marker to submit the recording again (a new bill).
- Use one ``key_prefix`` per source root: two sources with the same layout under one prefix would be
  taken for one; a sub-folder run on its own needs ``key_prefix`` extended by the same sub-path.
- **Only source paths travel in XCom**; each ``transcribe`` task uploads its recording itself, so no
  pre-signed URL is ever stored.
- **Pool:** ``transcribe`` and ``archive`` run in the pool ``assemblyai`` (create it first:
  ``airflow pools set assemblyai 8 "AssemblyAI submissions and transfers"``); its size caps concurrent
  uploads, submissions and transfers. ``check_pool`` fails the run when the pool is missing, instead of
  leaving the tasks queued forever, and when it cannot tell (a worker asks the API server at
  ``[api] base_url``, which may refuse it): then create the pool and run with ``check_pool=false``.
- **One run at a time** (``max_active_runs=1``), so overlapping runs never submit a recording twice.
- **One bad recording fails only its own tasks.** ``summarize`` reports archived, skipped, failed and
  bytes, and fails the run when a recording failed (run it again: archived recordings are skipped,
  submitted ones resumed).
- **At most ``[core] max_map_length`` recordings** (1,024 by default) to submit per run; more are refused
  before anything is sent: split the source into smaller prefixes (and ``key_prefix`` alike).
- ``wait`` and ``archive`` retry twice: a passing fault, or Airflow's race that can fail a deferred task
  resumed within seconds, costs one retry and no new submission.

``ASSEMBLYAI_EXAMPLE_POLL_SECONDS`` sets the poll interval (default 30 s).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, chain, get_current_context, task, task_group

from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.submission import SubmissionMarker
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.transfers.archive import archive_uri, parse_archive_uri
from airflow_assemblyai.transfers.redacted_audio_to_s3 import AssemblyAIRedactedAudioToS3Operator

DAG_ID = "example_assemblyai_redacted_audio_batch"
#: The pool that caps concurrent uploads, submissions and transfers (create it: docs/batches.md#batch-dag).
POOL = "assemblyai"
AUDIO_SUFFIXES = frozenset(
    {".aac", ".amr", ".flac", ".m4a", ".mov", ".mp3", ".mp4", ".ogg", ".opus", ".wav", ".webm", ".wma"}
)
#: Appended to a recording's archive key to name its submission marker.
MARKER_SUFFIX = ".submission.json"
GROUP = "recording"
RECORDING_TASKS = ("transcribe", "wait", "archive", "delete")
log = logging.getLogger(__name__)
POLL_SECONDS = float(os.environ.get("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "30"))


def _archive_key(key_prefix: str, relative_path: str, audio_format: str) -> str:
    """Return the archive key of a recording: from its path under the source, never a transcript id."""
    return f"{key_prefix}{relative_path}.redacted.{audio_format}"


def _recordings(root: ObjectStoragePath, local_dir: str | None) -> list[tuple[str, ObjectStoragePath]]:
    """Return ``(path relative to the source, path)`` of each recording; symbolic links are skipped."""
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


def _s3_hook() -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default")


def _pool_exists(name: str) -> tuple[bool | None, str]:
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


def _summarize(context: Any, group: str) -> dict[str, Any]:
    """Report archived, skipped, failed and bytes from the task states; remove the markers of purged
    transcripts; raise when anything failed."""
    from airflow.sdk.exceptions import AirflowFailException

    ti, dag_run = context["ti"], context["dag_run"]
    todo = ti.xcom_pull(task_ids="plan")
    if todo is None:
        raise AirflowFailException("Nothing was submitted: check_pool or plan failed (see their logs).")
    purge = ti.xcom_pull(task_ids="find_unpurged")
    skipped = ti.xcom_pull(task_ids="plan", key="skipped") or 0
    task_ids = [f"{group}.{task_id}" for task_id in RECORDING_TASKS] + ["purge"]
    states = ti.get_task_states(dag_id=dag_run.dag_id, task_ids=task_ids, run_ids=[dag_run.run_id])
    states = states.get(dag_run.run_id, {})
    bucket = context["params"]["bucket"]
    s3 = _s3_hook()
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
        raise AirflowFailException(
            f"{len(failed)} of {len(todo)} recordings failed and {len(not_purged)} archived ones are not "
            "purged yet; run the DAG again to retry them (archived recordings are skipped, submitted ones "
            "resumed without a second submission)."
        )
    return report


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["assemblyai", "example"],
    params={
        "source": Param("", type="string", description="Local directory, or s3://bucket/prefix/"),
        "source_conn_id": Param("aws_default", type="string", description="Connection of an s3:// source"),
        "bucket": Param("redacted-audio", type="string", description="S3 bucket of the archive"),
        "key_prefix": Param("redacted/", type="string", description="S3 key prefix of the archive"),
        "audio_format": Param("mp3", enum=["mp3", "wav"], description="Format of the redacted audio"),
        "check_pool": Param(True, type="boolean", description="Fail unless the pool is shown to exist"),
    },
    doc_md=__doc__,
) as dag:

    @task
    def check_pool() -> None:
        """Fail the run, naming the fix, when the pool the recording tasks need is not shown to exist."""
        from airflow.sdk.exceptions import AirflowFailException

        create = f'airflow pools set {POOL} 8 "AssemblyAI submissions and transfers"'
        if not get_current_context()["params"]["check_pool"]:
            log.warning("Not checking that the pool %r exists (check_pool=false).", POOL)
            return
        found, source = _pool_exists(POOL)
        if found is None:
            raise AirflowFailException(
                f"Could not check that the pool {POOL!r} exists: {source}. Without it the recording tasks "
                f"would wait forever. Create it ({create}) and run with check_pool=false, or let this task "
                "read pools (a database it may reach, or an API server that answers it)."
            )
        if not found:
            raise AirflowFailException(
                f"The pool {POOL!r} does not exist, so the recording tasks would wait forever. Create it "
                f"(its size caps concurrent uploads and transfers): {create}"
            )
        log.info("The pool %r exists (asked %s).", POOL, source)

    @task
    def plan() -> list[dict[str, Any]]:
        """List the recordings; return those to submit (or resume), push how many were ``skipped``
        (archived before) and the markers of those among them never purged as ``unpurged``."""
        from airflow.sdk import conf
        from airflow.sdk.exceptions import AirflowFailException

        context = get_current_context()
        params = context["params"]
        source = str(params["source"]).strip()
        if "://" not in source and not source.startswith("/"):
            raise AirflowFailException(
                f"The source param {source!r} is neither an absolute local directory nor a URL: pass "
                "/path/to/recordings or s3://bucket/prefix/."
            )
        local_dir = (
            None if "://" in source and not source.startswith("file://") else source.removeprefix("file://")
        )
        if local_dir is None:
            root = ObjectStoragePath(source, conn_id=params["source_conn_id"] or None)
        else:
            root = ObjectStoragePath(f"file://{local_dir}")
        if not root.is_dir():
            raise AirflowFailException(f"The source {source!r} is not a directory or prefix that exists.")
        recordings = _recordings(root, local_dir)
        bucket, prefix, fmt = params["bucket"], params["key_prefix"], params["audio_format"]
        existing = set(_s3_hook().list_keys(bucket_name=bucket, prefix=prefix))
        todo: list[dict[str, Any]] = []
        unpurged: list[str] = []  # archived, but their transcripts were never purged
        for relative, path in recordings:
            key = _archive_key(prefix, relative, fmt)
            if key not in existing:
                todo.append(
                    {"audio_path": path, "s3_key": key, "marker": archive_uri(bucket, key + MARKER_SUFFIX)}
                )
            elif key + MARKER_SUFFIX in existing:
                unpurged.append(key)
        limit = conf.getint("core", "max_map_length", fallback=1024)
        if len(todo) > limit:
            raise AirflowFailException(
                f"{len(todo):,} recordings under {source} are not archived yet: more than the "
                f"{limit:,} mapped tasks one run may hold ([core] max_map_length). Nothing was "
                "submitted. Split the source into smaller prefixes (one run each, key_prefix extended by the "
                "same sub-path so the archive keys stay the same), or raise max_map_length."
            )
        skipped = len(recordings) - len(todo)
        log.info("%d recordings: %d to archive, %d archived before", len(recordings), len(todo), skipped)
        context["ti"].xcom_push(key="skipped", value=skipped)
        context["ti"].xcom_push(key="unpurged", value=unpurged)
        return todo

    @task
    def find_unpurged() -> list[dict[str, str]]:
        """Return the transcript id (from its marker) and archive of each recording never purged."""
        context = get_current_context()
        bucket = context["params"]["bucket"]
        found = []
        for key in context["ti"].xcom_pull(task_ids="plan", key="unpurged") or []:
            submitted = SubmissionMarker(archive_uri(bucket, key + MARKER_SUFFIX)).read()
            if submitted and submitted.transcript_id:
                found.append(
                    {"transcript_id": submitted.transcript_id, "archive_uri": archive_uri(bucket, key)}
                )
        return found

    @task_group(group_id=GROUP)
    def recording(audio_path: Any, s3_key: Any, marker: Any) -> None:
        """Transcribe one recording with PII redaction (or resume its submission), archive the redacted
        audio, purge the transcript once the archive is shown to hold it."""
        transcribe = AssemblyAITranscribeOperator(
            task_id="transcribe",
            audio_path=audio_path,
            submission_marker=marker,
            redact_pii=True,
            redact_pii_audio=True,
            redact_pii_policies=["person_name", "phone_number", "email_address", "location_address"],
            redact_pii_sub="entity_name",
            redact_pii_audio_quality="{{ params.audio_format }}",
            redact_pii_audio_options={"return_redacted_no_speech_audio": True},
            pool=POOL,
        )
        wait = AssemblyAIRedactedAudioSensor(
            task_id="wait",
            transcript_id=transcribe.output,
            deferrable=True,
            poke_interval=POLL_SECONDS,
            timeout=6 * 60 * 60,
            retries=2,
            retry_delay=timedelta(seconds=POLL_SECONDS),
            # Nothing downstream reads the wait's value, so the triggerer ends the task itself.
            do_xcom_push=False,
        )
        archive = AssemblyAIRedactedAudioToS3Operator(
            task_id="archive",
            transcript_id=transcribe.output,
            s3_bucket="{{ params.bucket }}",
            s3_key=s3_key,
            pool=POOL,
            retries=2,
            retry_delay=timedelta(seconds=POLL_SECONDS),
        )
        delete = AssemblyAIDeleteTranscriptOperator(
            task_id="delete", transcript_id=transcribe.output, archive_uri=archive.output
        )
        chain(transcribe, wait, archive, delete)

    @task(trigger_rule="all_done")
    def summarize() -> dict[str, Any]:
        """Report archived, skipped, failed and bytes; fail the run when anything failed."""
        return _summarize(get_current_context(), GROUP)

    planned, unpurged = plan(), find_unpurged()
    # Transcripts archived by an earlier run whose delete failed; each purge checks its archive first.
    purge = AssemblyAIDeleteTranscriptOperator.partial(task_id="purge").expand_kwargs(unpurged)
    chain(check_pool(), planned, [recording.expand_kwargs(planned), unpurged], report := summarize())
    chain(unpurged, purge, report)
