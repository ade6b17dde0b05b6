"""Run the batch example DAG in a real Airflow deployment over N recordings; print what it costs.

One deployment (api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite, loopback)
runs, in turn, a DAG of the same shape whose tasks do nothing (the baseline: Airflow's own cost for
check_pool, plan, N x [transcribe, wait, archive, delete], find_unpurged, purge, summarize) and the
batch example DAG over N generated WAV recordings in a local folder. The emulator and a moto S3 server
run as separate processes. Emulator profile: each transcript completes ``--processing-seconds``
after submission (default 0), and its redacted audio is rendered a little after the first poll: the
first redacted-audio request after completion answers 202 (``--render-polls``), so every wait
defers once and the triggerer's first poll finds the audio ready.

Prints the wall time of each run (dag_run start to end, from the metadata database) and their
ratio, the API requests per recording counted at the emulator (by endpoint), and the archive's
check: one object and one version per recording, no unfinished multipart upload, every transcript
submitted once and purged.

    .venv/bin/python benchmarks/batch_deployment.py [--recordings 200] [--poll-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import textwrap
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests package holds the deployment helpers

from airflow_assemblyai.testing.audio import write_call_recordings  # noqa: E402
from airflow_assemblyai.testing.loopback import (  # noqa: E402
    MOTO_CREDENTIALS_ENV,
    aws_connection_env,
    emulator_process,
    moto_process,
    moto_s3_client,
)
from tests.integration.airflow_deployment import Deployment, running  # noqa: E402

KEY = "bench-key"
BUCKET = "redacted-audio"
BATCH_DAG = "example_assemblyai_redacted_audio_batch"
BASELINE_DAG = "baseline_empty_batch"
BASELINE = textwrap.dedent(f'''
    """The batch DAG's shape with tasks that do nothing: Airflow's own cost, for comparison."""
    import pendulum
    from airflow.sdk import DAG, chain, get_current_context, task, task_group

    with DAG("{BASELINE_DAG}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), max_active_runs=1):

        @task
        def check_pool():
            pass

        @task
        def plan():
            count = int(get_current_context()["params"]["count"])
            return [dict(audio_path=f"r{{n}}", s3_key=f"k{{n}}", marker=f"m{{n}}") for n in range(count)]

        @task
        def find_unpurged():
            return []

        @task
        def purge(transcript_id, archive_uri):
            pass

        @task_group(group_id="recording")
        def recording(audio_path, s3_key, marker):
            @task(pool="assemblyai")
            def transcribe(audio_path):
                return "id"

            @task
            def wait(transcript_id):
                return transcript_id

            @task(pool="assemblyai")
            def archive(transcript_id, s3_key):
                return s3_key

            @task
            def delete(transcript_id):
                pass

            transcript_id = transcribe(audio_path)
            chain(wait(transcript_id), archive(transcript_id, s3_key), delete(transcript_id))

        @task(trigger_rule="all_done")
        def summarize():
            pass

        planned, unpurged = plan(), find_unpurged()
        report = summarize()
        chain(check_pool(), planned, [recording.expand_kwargs(planned), unpurged], report)
        chain(unpurged, purge.expand_kwargs(unpurged), report)
''')


def run_dag(
    deployment: Deployment, dag_id: str, conf: dict[str, Any], deadline_s: float
) -> tuple[str, float]:
    """Trigger one run and wait for it; return its state and wall time (start to end, seconds)."""
    deployment.airflow("dags", "trigger", dag_id, "-c", json.dumps(conf))
    sql = "SELECT state, start_date, end_date FROM dag_run WHERE dag_id = ?"

    def finished() -> bool:
        rows = deployment.query(sql, dag_id)
        return bool(rows) and rows[0][0] in ("success", "failed")

    deployment.wait_until(finished, deadline_s, f"the {dag_id} run to finish")
    state, start, end = deployment.query(sql, dag_id)[0]
    return state, (parse_time(end) - parse_time(start)).total_seconds()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", value))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=200)
    parser.add_argument("--poll-seconds", type=float, default=5.0)
    parser.add_argument("--processing-seconds", type=float, default=0.0)
    parser.add_argument("--render-polls", type=int, default=1, help="redacted-audio 202s after completion")
    parser.add_argument("--parallelism", type=int, default=4, help="[core] parallelism and the pool's slots")
    parser.add_argument(
        "--keep", action="store_true", help="keep the deployment's folder (logs) and print it"
    )
    args = parser.parse_args()
    processing = args.processing_seconds

    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="aai-batch-bench-"))
        if not args.keep:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        emulator_url = stack.enter_context(emulator_process(api_key=KEY, processing_seconds=processing))
        moto_url = stack.enter_context(moto_process())
        s3 = moto_s3_client(moto_url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        source = write_call_recordings(work / "calls", args.recordings)
        dags = work / "dags"
        dags.mkdir()
        shutil.copy(REPO / "dags" / f"{BATCH_DAG}.py", dags)
        (dags / "baseline_empty_batch.py").write_text(BASELINE)
        deployment = Deployment(
            work / "airflow-home",
            assemblyai_connection={"conn_type": "assemblyai", "password": KEY, "host": emulator_url},
            dags_folder=dags,
            env={
                **aws_connection_env(endpoint_url=moto_url),
                **MOTO_CREDENTIALS_ENV,
                "ASSEMBLYAI_EXAMPLE_POLL_SECONDS": str(args.poll_seconds),
                "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(args.parallelism * 4),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            },
        )
        deployment.env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{deployment.api_port}"
        with running(deployment):
            deployment.airflow("pools", "set", "assemblyai", str(args.parallelism), "AssemblyAI batch")
            deployment.wait_for_dag(BATCH_DAG)
            deployment.wait_for_dag(BASELINE_DAG)
            deadline = 60 + args.recordings * 20
            base_state, base_wall = run_dag(deployment, BASELINE_DAG, {"count": args.recordings}, deadline)
            httpx.post(f"{emulator_url}/_emulator/reset")
            faults = {"processing_seconds": processing, "render_polls": args.render_polls}
            httpx.put(f"{emulator_url}/_emulator/next-faults", json=faults).raise_for_status()
            conf = {"source": str(source), "bucket": BUCKET, "key_prefix": "redacted/", "audio_format": "mp3"}
            batch_state, batch_wall = run_dag(deployment, BATCH_DAG, conf, deadline)
        requests = httpx.get(f"{emulator_url}/_emulator/requests").json()
        retried = deployment.query(
            "SELECT count(*) FROM task_instance WHERE dag_id = ? AND try_number > 1", BATCH_DAG
        )[0][0]

        api = [r for r in requests if r["kind"] == "api"]
        by_endpoint = Counter(
            f"{r['method']} {re.sub(r'/v2/transcript/[0-9a-f-]{36}', '/v2/transcript/{id}', r['path'])}"
            for r in api
        )
        versions = s3.list_object_versions(Bucket=BUCKET).get("Versions", [])
        # The archived audio only: not the digest beside each (x.mp3.digest.json), nor the submission
        # markers, which the run deletes once their transcript is purged.
        per_key = Counter(v["Key"] for v in versions if v["Key"].endswith(".redacted.mp3"))
        uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        ids = [
            s3.head_object(Bucket=BUCKET, Key=k)["Metadata"].get("assemblyai-transcript-id") for k in per_key
        ]
        deleted = Counter(r["transcript_id"] for r in api if r["method"] == "DELETE")
        n = args.recordings
        print(
            f"Batch DAG over {n} recordings in one deployment (LocalExecutor, SQLite, parallelism "
            f"{args.parallelism}, pool of {args.parallelism}); poll interval {args.poll_seconds:g} s, "
            f"transcripts complete {processing:g} s after submission, their audio rendered after "
            f"{args.render_polls} redacted-audio poll(s)"
        )
        print(f"  baseline (same shape, empty tasks): {base_wall:7.1f} s  ({base_state})")
        print(f"  batch DAG:                          {batch_wall:7.1f} s  ({batch_state})")
        print(f"  ratio:                              {batch_wall / base_wall:7.2f}x  (target <= 1.3x)")
        print(f"  API requests: {len(api)} = {len(api) / n:.2f} per recording  (target <= 8)")
        for endpoint, count in sorted(by_endpoint.items()):
            print(f"    {endpoint:40s} {count:6d}  ({count / n:.2f} per recording)")
        rendering = sum(1 for r in api if r["path"].endswith("/redacted-audio") and r["status"] == 202)
        print(f"  waits that found the audio rendering (and deferred): {rendering}; tasks retried: {retried}")
        lost = n - len(per_key)
        duplicated = sum(c - 1 for c in per_key.values())
        print(
            f"  objects: {len(per_key)} of {n}; lost {lost}; keys with more than one version {duplicated}; "
            f"unfinished multipart uploads {len(uploads)}"
        )
        print(
            f"  transcripts: {by_endpoint['POST /v2/transcript']} submitted, {len(set(ids))} distinct in the "
            f"archive, {len(deleted)} purged, purged twice {sum(1 for c in deleted.values() if c > 1)}"
        )
        if args.keep:
            print(f"  deployment folder: {work}")
        ok = batch_state == "success" and lost == 0 and duplicated == 0 and not uploads and len(set(ids)) == n
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
