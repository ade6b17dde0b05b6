"""Run the example DAG end to end and print every file of the redacted record it archived.

By default it runs offline: it starts the loopback AssemblyAI emulator and a local S3 (moto server),
generates a short WAV, and runs ``airflow dags test example_assemblyai_redacted_audio`` against them.
An exported ``ASSEMBLYAI_API_KEY`` is ignored then: AssemblyAI (billed) and AWS are used only with
``--real``, which also needs ``--bucket`` named on the command line. ``--dry-run`` prints the
transcript request the example DAG would send (the API key masked) and sends nothing. Arguments are
checked before anything starts; on a failure the work folder and its logs are kept and their path
printed with the error's own lines. Every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx

from airflow_assemblyai.hooks.settings import is_loopback_host
from airflow_assemblyai.testing.loopback import (
    MOTO_CREDENTIALS_ENV,
    assemblyai_connection_env,
    aws_connection_env,
    emulator_process,
    moto_process,
    moto_s3_client,
)

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_assemblyai_redacted_audio"
BATCH_DAG_ID = "example_assemblyai_redacted_audio_batch"
BIN = Path(sys.executable).parent
DEMO_KEY = "demo-emulator-key"
LOCAL_BUCKET = "redacted-audio"
#: S3's rule for bucket names (3 to 63 lower-case letters, digits, dots and hyphens).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: A log line that states an error: an exception's last line, or a record logged at ERROR or above.
ERROR_LINE = re.compile(
    r"^\s*[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b(?::.*)?$|\b(?:ERROR|CRITICAL)\b"
)
#: What the demo prints of the error lines at most.
MAX_ERROR_LINES = 12
#: The record's files, by the suffix of their keys (RecordKeys.beside names them so).
RECORD_ROLES = (
    (".manifest.json", "manifest"),
    (".transcript.json", "transcript"),
    (".srt", "srt"),
    (".vtt", "vtt"),
    (".wav", "audio"),
    (".mp3", "audio"),
)


class DemoFailed(Exception):
    """A step failed; the message holds the lines worth reading and where the full log is."""


@contextmanager
def work_folder() -> Iterator[Path]:
    """Yield a fresh work folder: removed after a success, kept (and its path printed) after a failure."""
    work = Path(tempfile.mkdtemp(prefix="aai-demo-"))
    try:
        yield work
    except BaseException:
        logs = ", ".join(sorted(p.name for p in work.glob("*.log"))) or "none"
        print(f"demo: the work folder is kept for inspection: {work} (logs: {logs})", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)


def error_lines(text: str) -> list[str]:
    """Return the last lines of a log that state an error, each once, in their order."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        if ERROR_LINE.search(line):
            seen.pop(line.strip(), None)
            seen[line.strip()] = None
    return list(seen)[-MAX_ERROR_LINES:]


def start_local_services(stack: ExitStack, work: Path) -> tuple[str, str]:
    """Start the emulator and moto in their own processes; return their base URLs."""
    emulator_url = stack.enter_context(
        emulator_process(api_key=DEMO_KEY, processing_seconds=2, log=work / "emulator.log")
    )
    moto_url = stack.enter_context(moto_process(log=work / "moto.log"))
    return emulator_url, moto_url


def airflow_env(work: Path) -> dict[str, str]:
    home = work / "airflow-home"
    home.mkdir()
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "ASSEMBLYAI_EXAMPLE_POLL_SECONDS": os.environ.get("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "1"),
    }


def run_airflow(env: dict[str, str], *args: str, log: Path) -> None:
    with log.open("a") as out:
        done = subprocess.run([str(BIN / "airflow"), *args], env=env, stdout=out, stderr=out, check=False)
    if done.returncode != 0:
        lines = error_lines(log.read_text(errors="replace")) or ["(no error line found; read the log)"]
        raise DemoFailed(
            f"`airflow {' '.join(args[:2])}` failed (exit {done.returncode}). The error lines of the log:\n  "
            + "\n  ".join(lines)
            + f"\nThe whole log: {log}"
        )


def dag_conf(bucket: str, audio: str) -> dict[str, str]:
    """Return the example DAG's run conf for an audio file or URL."""
    source = {"audio_url": audio} if audio.startswith(("http://", "https://")) else {"audio_path": audio}
    return {"bucket": bucket, "key_prefix": "calls/", **source}


def dry_run(conf: dict[str, str], api_key: str | None) -> int:
    """Print what the example DAG's transcribe task would send, rendered from ``conf``; send nothing."""
    os.environ.update(assemblyai_connection_env(api_key=api_key or "unset"))
    spec = importlib.util.spec_from_file_location(DAG_ID, REPO / "dags" / f"{DAG_ID}.py")
    if spec is None or spec.loader is None:
        raise SystemExit("demo: the example DAG cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    task = dag.get_task("transcribe")
    params = copy.deepcopy(dag.params)
    params.update(conf)
    rendered_params = params.validate()
    task.render_template_fields({"params": rendered_params})
    body = task.submission_preview()
    print("demo: dry run: nothing is sent. The example DAG would send:")
    print(f"POST {task.hook.settings.base_url}/v2/transcript")
    if api_key:
        print(f"Authorization: {'*' * 8} (ASSEMBLYAI_API_KEY, {len(api_key)} characters, masked)")
    else:
        print("Authorization: none: ASSEMBLYAI_API_KEY is not set, so AssemblyAI would answer 401")
    print(json.dumps(body, indent=2, sort_keys=True))
    return 0


def run_batch(count: int, bucket: str) -> int:
    """Run the batch example DAG over ``count`` generated recordings on the emulator and moto; report."""
    from airflow_assemblyai.archive.record import AUDIO_DIGEST_SUFFIX
    from airflow_assemblyai.archive.redaction_check import EVIDENCE_SUFFIX
    from airflow_assemblyai.testing.audio import write_call_recordings

    started = time.monotonic()
    with ExitStack() as stack:
        work = stack.enter_context(work_folder())
        env = airflow_env(work)
        emulator_url, moto_url = start_local_services(stack, work)
        env.update(MOTO_CREDENTIALS_ENV)
        env.update(aws_connection_env(endpoint_url=moto_url))
        env.update(assemblyai_connection_env(api_key=DEMO_KEY, base_url=emulator_url))
        s3 = moto_s3_client(moto_url)
        s3.create_bucket(Bucket=bucket)
        source = write_call_recordings(work / "calls", count)
        print(f"demo: {count} recordings in {source}; emulator at {emulator_url}, local S3 at {moto_url}")
        log = work / "airflow.log"
        run_airflow(env, "db", "migrate", log=log)
        # The pool caps concurrent uploads, submissions and transfers; the DAG refuses to run without it.
        run_airflow(env, "pools", "set", "assemblyai", "4", "AssemblyAI submissions and transfers", log=log)
        conf = {"source": str(source), "bucket": bucket, "key_prefix": "redacted/", "audio_format": "mp3"}
        run_airflow(env, "dags", "test", BATCH_DAG_ID, "-c", json.dumps(conf), log=log)

        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="redacted/")
        listed = [o for page in pages for o in page.get("Contents", [])]
        # The archived audio, not the digest and the redaction evidence recorded beside each.
        stored = [o for o in listed if not o["Key"].endswith((AUDIO_DIGEST_SUFFIX, EVIDENCE_SUFFIX))]
        proven = [
            o
            for o in listed
            if o["Key"].endswith(EVIDENCE_SUFFIX)
            and json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())["redaction_check"][
                "passed"
            ]
        ]
        ids = {
            s3.head_object(Bucket=bucket, Key=o["Key"])["Metadata"].get("assemblyai-transcript-id")
            for o in stored
        }
        stats = httpx.get(f"{emulator_url}/_emulator/stats").json()
        requests = httpx.get(f"{emulator_url}/_emulator/requests").json()
        deleted = {r["transcript_id"] for r in requests if r["method"] == "DELETE" and r["status"] == 200}
        api = stats["requests"].get("api", 0)
        print()
        print("Batch archived")
        print(f"  objects:       {len(stored)} of {count} under s3://{bucket}/redacted/")
        print(f"  bytes:         {sum(o['Size'] for o in stored)}")
        print(f"  transcripts:   {len(ids)} distinct, {len(deleted & ids)} deleted at the emulator")
        print(
            f"  listened to:   {len(proven)} of {count}, every redacted range beeped (x.mp3.redaction.json)"
        )
        print(f"  API requests:  {api} ({api / count:.1f} per recording)")
        print(f"  example:       s3://{bucket}/{stored[0]['Key']}" if stored else "  example:       none")
        print(f"  took:          {time.monotonic() - started:.1f} s")
        whole = len(stored) == len(ids) == len(proven) == count
        return 0 if whole and deleted >= ids else 1


def parse_arguments() -> argparse.Namespace:
    """Parse and check the arguments; refuse bad ones before anything starts."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=(
            "Offline by default: the AssemblyAI emulator and a local S3, even when ASSEMBLYAI_API_KEY is "
            "exported. --real runs against AssemblyAI (billed) and AWS with ASSEMBLYAI_API_KEY and the AWS "
            "credentials of the environment, and needs --bucket."
        ),
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="run against AssemblyAI (billed per audio hour) and AWS S3 instead of the local stand-ins",
    )
    parser.add_argument(
        "--bucket", help=f"S3 bucket of the archive (required with --real; offline: {LOCAL_BUCKET})"
    )
    parser.add_argument(
        "--audio",
        help="audio file, or URL with --real, to transcribe (default: a generated WAV)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the transcript request the example DAG would send (key masked); send nothing",
    )
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="run the batch example DAG over N generated recordings (offline only)",
    )
    args = parser.parse_args()
    key = os.environ.get("ASSEMBLYAI_API_KEY")
    if args.batch is not None:
        if args.real or args.dry_run or args.audio:
            parser.error("--batch runs offline only (the emulator and a local S3): drop --real and --audio")
        if args.batch < 1:
            parser.error("--batch needs at least 1 recording")
    if args.real and not args.dry_run:
        if not key:
            parser.error("--real needs ASSEMBLYAI_API_KEY in the environment (the AssemblyAI API key)")
        if not args.bucket:
            parser.error("--real needs --bucket: name the S3 bucket of your AWS account to archive into")
    args.bucket = args.bucket or LOCAL_BUCKET
    if not BUCKET_NAME.match(args.bucket) or ".." in args.bucket:
        parser.error(
            f"--bucket {args.bucket!r} is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots "
            "and hyphens, starting and ending with a letter or digit"
        )
    if args.audio:
        args.audio = check_audio_argument(parser, args.audio, real=args.real or args.dry_run)
    if key and not args.real and not args.dry_run:
        print(
            "demo: ASSEMBLYAI_API_KEY is set but not used: the demo runs offline unless --real is given.",
            file=sys.stderr,
        )
    return args


def check_audio_argument(parser: argparse.ArgumentParser, audio: str, *, real: bool) -> str:
    """Return ``--audio`` checked: a readable file (as an absolute path), or a URL where one can be used."""
    if "://" in audio:
        parts = urlsplit(audio)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            parser.error(f"--audio {audio!r} is not an http(s) URL or a local file")
        if not real and not is_loopback_host(parts.hostname):
            parser.error(
                f"--audio {audio!r}: offline, the emulator fetches only loopback URLs; pass a local file, "
                "or add --real to have AssemblyAI fetch the URL"
            )
        return audio
    path = Path(audio).expanduser()
    if not path.is_file():
        parser.error(f"--audio {audio!r} is not a file that exists: pass the path of an audio file")
    if not os.access(path, os.R_OK):
        parser.error(f"--audio {audio!r} cannot be read by this user")
    return str(path.resolve())


def record_files(s3: Any, bucket: str, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(role, object)`` for every file the record left under ``prefix``, the audio first."""
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    files = []
    for entry in listing:
        role = next((r for suffix, r in RECORD_ROLES if entry["Key"].endswith(suffix)), "other")
        files.append((role, entry))
    order = ["audio", "transcript", "srt", "vtt", "manifest", "other"]
    return sorted(files, key=lambda item: (order.index(item[0]), item[1]["Key"]))


def describe_redaction_check(manifest: dict[str, Any]) -> str:
    """Say in one line what the manifest's listening evidence shows: spans, verdicts, offsets."""
    check = manifest.get("redaction_check") or {}
    verdicts = check.get("verdicts") or []
    if not verdicts:
        return "no redacted words, nothing to listen to"
    passed = sum(1 for v in verdicts if v.get("verdict") == "pass")
    ranges = ", ".join(
        f"{v.get('label') or '?'} {v.get('start_ms')}-{v.get('end_ms')} ms {v.get('verdict')}"
        for v in verdicts
    )
    return f"{passed} of {len(verdicts)} redacted spans heard as beep or silence ({ranges})"


def run_single(args: argparse.Namespace) -> int:
    """Run the example DAG once, offline or with --real; print every file of the record."""
    started = time.monotonic()
    with ExitStack() as stack:
        work = stack.enter_context(work_folder())
        env = airflow_env(work)
        if args.real:
            env.update(assemblyai_connection_env(api_key=os.environ["ASSEMBLYAI_API_KEY"]))
            s3 = boto3.client("s3")
            print(f"demo: running against AssemblyAI (billed) and AWS, archiving into s3://{args.bucket}")
        else:
            emulator_url, moto_url = start_local_services(stack, work)
            env.update(assemblyai_connection_env(api_key=DEMO_KEY, base_url=emulator_url))
            env.update(MOTO_CREDENTIALS_ENV)
            env.update(aws_connection_env(endpoint_url=moto_url))
            s3 = moto_s3_client(moto_url)
            s3.create_bucket(Bucket=args.bucket)
            print(f"demo: offline: emulator at {emulator_url}, local S3 at {moto_url}")

        audio = args.audio
        if not audio:
            from airflow_assemblyai.testing.audio import synth_wav

            sample = work / "call.wav"
            sample.write_bytes(synth_wav(seconds=6.0))
            audio = str(sample)
        conf = dag_conf(args.bucket, audio)

        log = work / "airflow.log"
        run_airflow(env, "db", "migrate", log=log)
        run_airflow(env, "dags", "test", DAG_ID, "-c", json.dumps(conf), log=log)

        files = record_files(s3, args.bucket, "calls/")
        audio_files = [entry for role, entry in files if role == "audio"]
        if len(audio_files) != 1:
            raise DemoFailed(f"expected one archived audio object, found {len(audio_files)}; see {log}")
        key = audio_files[0]["Key"]
        head = s3.head_object(Bucket=args.bucket, Key=key)
        data = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
        transcript_id = head["Metadata"].get("assemblyai-transcript-id", "?")
        print()
        print("Redacted record archived")
        print(f"  transcript id: {transcript_id}")
        for role, entry in files:
            print(f"  {role + ':':<14} s3://{args.bucket}/{entry['Key']} ({entry['Size']} bytes)")
        print(f"  audio sha256:  {hashlib.sha256(data).hexdigest()}")
        print(f"  content type:  {head['ContentType']}")
        manifests = [entry for role, entry in files if role == "manifest"]
        if manifests:
            body = s3.get_object(Bucket=args.bucket, Key=manifests[0]["Key"])["Body"].read()
            print(f"  redaction:     {describe_redaction_check(json.loads(body))}")
        if not args.real:
            expected = httpx.get(
                f"{emulator_url}/_emulator/transcripts/{transcript_id}/redacted-audio"
            ).content
            same = expected == data
            after = httpx.get(
                f"{emulator_url}/v2/transcript/{transcript_id}", headers={"Authorization": DEMO_KEY}
            ).json()
            deleted = after.get("text") == "Deleted by user."
            print(f"  matches the emulator's redacted file byte for byte: {'yes' if same else 'NO'}")
            print(f"  transcript deleted at the emulator: {'yes' if deleted else 'NO'}")
            if not (same and deleted):
                raise DemoFailed(f"the archive does not hold what the emulator rendered; see {log}")
        print(f"  took:          {time.monotonic() - started:.1f} s")
    return 0


def main() -> int:
    args = parse_arguments()
    try:
        if args.batch is not None:
            return run_batch(args.batch, args.bucket)
        if args.dry_run:
            with tempfile.TemporaryDirectory(prefix="aai-demo-") as work:
                os.environ.update(airflow_env(Path(work)))
                audio = args.audio or str(Path(work) / "call.wav")
                return dry_run(dag_conf(args.bucket, audio), os.environ.get("ASSEMBLYAI_API_KEY"))
        return run_single(args)
    except DemoFailed as exc:
        print(f"demo: failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
