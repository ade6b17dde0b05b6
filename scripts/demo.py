"""Run the example DAG end to end and print where the redacted audio landed.

Without ``ASSEMBLYAI_API_KEY``: start the loopback AssemblyAI emulator and a local S3 (moto server),
generate a short WAV, and run ``airflow dags test example_assemblyai_redacted_audio`` against them.
With ``ASSEMBLYAI_API_KEY`` (and AWS credentials in the environment, plus ``--bucket``): run the same
DAG against AssemblyAI and AWS. ``--dry-run`` prints the transcript request the example DAG would send
(the API key masked) and sends nothing, so nothing is billed. Every process it starts is stopped
before it exits.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import boto3
import httpx

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
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"demo: `airflow {' '.join(args[:2])}` failed (exit {done.returncode}):\n{tail}")


def dag_conf(bucket: str, audio: str) -> dict[str, str]:
    """Return the example DAG's run conf for an audio file or URL."""
    source = {"audio_url": audio} if audio.startswith(("http://", "https://")) else {"audio_path": audio}
    return {"bucket": bucket, "key_prefix": "calls/", **source}


def dry_run(conf: dict[str, str], api_key: str) -> int:
    """Print what the example DAG's transcribe task would send, rendered from ``conf``; send nothing."""
    os.environ.update(assemblyai_connection_env(api_key=api_key))
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
    print(f"Authorization: {'*' * 8} (ASSEMBLYAI_API_KEY, {len(api_key)} characters, masked)")
    print(json.dumps(body, indent=2, sort_keys=True))
    return 0


def run_batch(count: int, bucket: str) -> int:
    """Run the batch example DAG over ``count`` generated recordings on the emulator and moto; report."""
    from airflow_assemblyai.testing.audio import write_call_recordings

    started = time.monotonic()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aai-demo-")))
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
        stored = [o for page in pages for o in page.get("Contents", [])]
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
        print(f"  API requests:  {api} ({api / count:.1f} per recording)")
        print(f"  example:       s3://{bucket}/{stored[0]['Key']}" if stored else "  example:       none")
        print(f"  took:          {time.monotonic() - started:.1f} s")
        return 0 if len(stored) == count and len(ids) == count and deleted >= ids else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", default="redacted-audio", help="S3 bucket of the archive")
    parser.add_argument("--audio", help="audio file or URL to transcribe (default: a generated WAV)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the transcript request the example DAG would send (key masked); send nothing",
    )
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="run the batch example DAG over N generated recordings (emulator and local S3 only)",
    )
    args = parser.parse_args()
    real = bool(os.environ.get("ASSEMBLYAI_API_KEY"))
    if args.batch is not None:
        if real or args.dry_run or args.audio:
            parser.error(
                "--batch runs on the emulator and a local S3 only: unset ASSEMBLYAI_API_KEY, drop --audio"
            )
        if args.batch < 1:
            parser.error("--batch needs at least 1 recording")
        return run_batch(args.batch, args.bucket)
    started = time.monotonic()
    if args.dry_run:
        with tempfile.TemporaryDirectory(prefix="aai-demo-") as work:
            os.environ.update(airflow_env(Path(work)))
            audio = args.audio or str(Path(work) / "call.wav")
            return dry_run(dag_conf(args.bucket, audio), os.environ.get("ASSEMBLYAI_API_KEY", "<API key>"))

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aai-demo-")))
        env = airflow_env(work)
        if real:
            env.update(assemblyai_connection_env(api_key=os.environ["ASSEMBLYAI_API_KEY"]))
            s3 = boto3.client("s3")
            print("demo: running against AssemblyAI and AWS")
        else:
            emulator_url, moto_url = start_local_services(stack, work)
            env.update(assemblyai_connection_env(api_key=DEMO_KEY, base_url=emulator_url))
            env.update(MOTO_CREDENTIALS_ENV)
            env.update(aws_connection_env(endpoint_url=moto_url))
            s3 = moto_s3_client(moto_url)
            s3.create_bucket(Bucket=args.bucket)
            print(f"demo: emulator at {emulator_url}, local S3 at {moto_url}")

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

        listing = s3.list_objects_v2(Bucket=args.bucket, Prefix="calls/").get("Contents", [])
        # The record's transcript JSON, subtitles and manifest sit beside the audio.
        listing = [o for o in listing if o["Key"].endswith((".wav", ".mp3"))]
        if len(listing) != 1:
            raise SystemExit(f"demo: expected one archived audio object, found {len(listing)}")
        key = listing[0]["Key"]
        head = s3.head_object(Bucket=args.bucket, Key=key)
        data = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
        transcript_id = head["Metadata"].get("assemblyai-transcript-id", "?")
        print()
        print("Redacted audio archived")
        print(f"  object:        s3://{args.bucket}/{key}")
        print(f"  size:          {len(data)} bytes")
        print(f"  sha256:        {hashlib.sha256(data).hexdigest()}")
        print(f"  content type:  {head['ContentType']}")
        print(f"  transcript:    {transcript_id}")
        if not real:
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
                return 1
        print(f"  took:          {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
