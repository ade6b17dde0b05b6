"""Benchmark moving redacted audio into S3: this provider's streaming transfer against the alternatives.

Runs a moto S3 server and the AssemblyAI emulator as separate processes on 127.0.0.1, seeds one
redacted file per size, and runs each method in its own fresh Python process, so the peak RSS
(``ru_maxrss``) printed is that method's alone:

* ``operator``: ``AssemblyAIRedactedAudioToObjectStorageOperator.execute`` (stream -> multipart upload);
* ``http_to_s3``: the amazon provider's ``HttpToS3Operator`` on a fresh pre-signed URL;
* ``disk_then_load``: download to a temporary file, then ``S3Hook.load_file`` (what the SDK's
  ``save_redacted_audio`` leads to);
* ``floor``: boto3 ``upload_file`` of the same bytes from local disk (the file is already there);
* ``path_s3`` and ``path_file``: the operator given ``destination=ObjectStoragePath(...)``, an
  ``s3://`` one (the S3 path) and a ``file://`` one (Airflow's object-storage layer, written to a
  temporary name and linked into place).

Every timed section starts after the imports and includes the method's own client setup (the
operators build their S3 client inside ``execute``, so the floor builds its boto3 client too).

Usage::

    .venv/bin/python benchmarks/transfer_to_s3.py                  # 64 MiB, 512 MiB, 1 GiB
    .venv/bin/python benchmarks/transfer_to_s3.py --sizes 16,64    # a quick run
    .venv/bin/python benchmarks/transfer_to_s3.py --methods path_file,path_s3 --sizes 64,512,1024
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from airflow_assemblyai.testing.loopback import (
    MOTO_CREDENTIALS_ENV,
    assemblyai_connection_env,
    aws_connection_env,
    connection_env,
    emulator_process,
    moto_process,
    moto_s3_client,
)

MiB = 1024 * 1024
API_KEY = "bench-key"
BUCKET = "benchmark-bucket"
METHODS = ("floor", "operator", "disk_then_load", "http_to_s3", "path_s3", "path_file")
ROOT = Path(__file__).resolve().parents[1]


# -- the parent: servers, seeding, the table ------------------------------------------------------------


def child_env(moto: str, emulator: str, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            **MOTO_CREDENTIALS_ENV,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPATH": str(ROOT),
            **aws_connection_env(endpoint_url=moto),
            **assemblyai_connection_env(api_key=API_KEY, base_url=emulator),
            **connection_env("bench_http", conn_type="http", host=emulator),
        }
    )
    return env


def run_child(method: str, args: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", method, "--child-args", json.dumps(args)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,512,1024", help="file sizes in MiB, comma separated")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"subset of {','.join(METHODS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method and size; the median is shown")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--child-args", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        return child_main(options.child, json.loads(options.child_args))

    sizes = [int(s) for s in options.sizes.split(",")]
    methods = [m for m in options.methods.split(",") if m]
    workdir = Path(tempfile.mkdtemp(prefix="aai-bench-"))
    storage = workdir / "emulator"
    stack = contextlib.ExitStack()
    rows: list[dict[str, Any]] = []
    try:
        moto_url = stack.enter_context(moto_process())
        emulator_url = stack.enter_context(
            emulator_process(api_key=API_KEY, processing_seconds=0, storage_dir=storage)
        )
        s3 = moto_s3_client(moto_url)
        s3.create_bucket(Bucket=BUCKET)
        env = child_env(moto_url, emulator_url, workdir / "airflow-home")
        api = httpx.Client(base_url=emulator_url, headers={"Authorization": API_KEY}, timeout=600)
        print(f"moto {moto_url}, emulator {emulator_url}, CPUs {os.cpu_count()}, repeat {options.repeat}")
        for size_mib in sizes:
            params = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_audio_quality": "wav"}
            seeded = api.post(
                "/_emulator/transcripts",
                json={"params": params, "faults": {"redacted_size_bytes": size_mib * MiB}},
            )
            transcript_id = seeded.json()["id"]
            api.get(f"/v2/transcript/{transcript_id}/redacted-audio").raise_for_status()  # render it now
            local_file = storage / f"{transcript_id}.wav"
            for method in methods:
                runs = []
                for attempt in range(options.repeat):
                    key = f"{method}/{size_mib}-{attempt}.wav"
                    child_args = {
                        "transcript_id": transcript_id,
                        "key": key,
                        "bucket": BUCKET,
                        "local_file": str(local_file),
                        "workdir": str(workdir),
                    }
                    result = run_child(method, child_args, env)
                    if method == "path_file":
                        written = workdir / "out" / key
                        stored = written.stat().st_size
                        written.unlink()
                    else:
                        stored = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
                        s3.delete_object(Bucket=BUCKET, Key=key)
                    if stored != local_file.stat().st_size:
                        raise RuntimeError(f"{method} stored {stored} bytes")
                    runs.append(result)
                row = {
                    "method": method,
                    "size_mib": size_mib,
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
                    "baseline_rss_mib": statistics.median(r["baseline_rss_mib"] for r in runs),
                }
                rows.append(row)
                print(
                    f"  {method:<15} {size_mib:>5} MiB  {row['seconds']:7.2f} s  peak RSS "
                    f"{row['peak_rss_mib']:7.1f} MiB",
                    flush=True,
                )
    finally:
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows, sizes)
    return 0


def print_table(rows: list[dict[str, Any]], sizes: list[int]) -> None:
    floor = {r["size_mib"]: r["seconds"] for r in rows if r["method"] == "floor"}
    print()
    print("| method | size | wall s | MB/s | peak RSS MiB | RSS over start MiB | wall / floor |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        ratio = f"{row['seconds'] / floor[row['size_mib']]:.2f}x" if row["size_mib"] in floor else "n/a"
        rate = row["size_mib"] * MiB / 1e6 / row["seconds"]
        print(
            f"| {row['method']} | {row['size_mib']} MiB | {row['seconds']:.2f} | {rate:.0f} | "
            f"{row['peak_rss_mib']:.0f} | {row['peak_rss_mib'] - row['baseline_rss_mib']:.0f} | {ratio} |"
        )
    for method in ("operator", "path_s3", "path_file"):
        ours = {r["size_mib"]: r["peak_rss_mib"] for r in rows if r["method"] == method}
        if len(ours) >= 2:
            small, large = min(ours), max(ours)
            print(
                f"\n{method} peak RSS growth {small} MiB -> {large} MiB: "
                f"{ours[large] - ours[small]:+.1f} MiB (target: under 64 MiB)"
            )


# -- the children: one method each, measured in isolation --------------------------------------------------


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / MiB


def child_main(method: str, args: dict[str, Any]) -> int:
    # Import everything first so the timing and the RSS baseline cover the transfer alone.
    import boto3
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.transfers.http_to_s3 import HttpToS3Operator

    from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
    from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
        AssemblyAIRedactedAudioToObjectStorageOperator,
    )

    bucket, key, transcript_id = args["bucket"], args["key"], args["transcript_id"]
    conn = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    run: Any
    if method == "operator":
        operator = AssemblyAIRedactedAudioToObjectStorageOperator(
            task_id="bench", transcript_id=transcript_id, s3_bucket=bucket, s3_key=key
        )

        def run() -> None:
            operator.execute({})  # type: ignore[arg-type]

    elif method in ("path_s3", "path_file"):
        from airflow.sdk import ObjectStoragePath

        where = (
            f"s3://aws_default@{bucket}/{key}"
            if method == "path_s3"
            else f"file://{args['workdir']}/out/{key}"
        )
        to_path = AssemblyAIRedactedAudioToObjectStorageOperator(
            task_id="bench", transcript_id=transcript_id, destination=ObjectStoragePath(where)
        )

        def run() -> None:
            to_path.execute({})  # type: ignore[arg-type]

    elif method == "http_to_s3":
        url = httpx.URL(AssemblyAIHook().get_redacted_audio(transcript_id).url or "")
        http_to_s3 = HttpToS3Operator(
            task_id="bench",
            http_conn_id="bench_http",
            endpoint=f"{url.path}?{url.query.decode()}",
            method="GET",
            s3_bucket=bucket,
            s3_key=key,
            replace=True,
        )

        def run() -> None:
            http_to_s3.execute({})  # type: ignore[arg-type]

    elif method == "disk_then_load":
        hook = AssemblyAIHook()

        def run() -> None:
            url = hook.get_redacted_audio(transcript_id).url or ""
            with tempfile.NamedTemporaryFile(dir=args["workdir"], suffix=".wav") as handle:
                with httpx.stream("GET", url, timeout=600) as response:
                    response.raise_for_status()
                    for chunk in response.iter_raw():
                        handle.write(chunk)
                handle.flush()
                S3Hook(aws_conn_id="aws_default").load_file(handle.name, key, bucket, replace=True)

    else:

        def run() -> None:
            client = boto3.client("s3", endpoint_url=conn["extra"]["endpoint_url"], region_name="us-east-1")
            client.upload_file(args["local_file"], bucket, key)

    baseline = current_rss_mib()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak, "baseline_rss_mib": baseline}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
