"""Measure what importing the example DAG costs against importing ``airflow.sdk`` alone.

Each sample is a fresh interpreter (as a DAG processor's parse of a new file would be), timed from
inside: the import alone, not interpreter start-up. Prints the medians and their ratio.

    .venv/bin/python benchmarks/dag_parse.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / "example_assemblyai_redacted_audio.py"

BASELINE = "from airflow.sdk import DAG, BaseOperator"
EXAMPLE = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("example_dag", {str(DAG_FILE)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert module.dag.dag_id == "example_assemblyai_redacted_audio"
"""
PROBE = """
import sys, time
started = time.perf_counter()
exec(compile({code!r}, "<import>", "exec"))
elapsed = time.perf_counter() - started
heavy = [m for m in ("boto3", "botocore", "airflow.providers.amazon.aws.hooks.s3") if m in sys.modules]
print(elapsed, ",".join(heavy))
"""


def sample(code: str) -> tuple[float, str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1] if len(out) > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    baseline, example, heavy = [], [], set()
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        baseline.append(sample(BASELINE)[0])
        seconds, loaded = sample(EXAMPLE)
        example.append(seconds)
        heavy.update(filter(None, loaded.split(",")))
    base, ours = statistics.median(baseline), statistics.median(example)
    print(f"import airflow.sdk (DAG, BaseOperator): median {base * 1000:.0f} ms over {args.repeat} runs")
    print(f"import the example DAG:                 median {ours * 1000:.0f} ms over {args.repeat} runs")
    print(f"ratio example / airflow.sdk:            {ours / base:.2f}x (+{(ours - base) * 1000:.0f} ms)")
    print(f"boto3 / S3Hook imported at parse time:  {', '.join(sorted(heavy)) or 'no'}")


if __name__ == "__main__":
    main()
