"""Check the built sdist and wheel as a publisher would, and the floors of an installed environment.

    python .ci/check_dist.py metadata DIST_DIR      # license, classifiers, URLs, lean Requires-Dist
    python .ci/check_dist.py requirements WHEEL     # print the direct requirements (runtime + [testing])
    python .ci/check_dist.py installed WHEEL        # print each direct requirement's floor and version
    python .ci/check_dist.py floors WHEEL           # ...and fail unless each >= floor is the installed
                                                    # version (the declared floor is the tested one)

Standard library plus ``packaging`` (which Airflow itself requires), so it runs in any environment
that has the package installed.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement

if TYPE_CHECKING:
    from email.message import Message

EXTRA = "testing"
TESTING_ONLY = {"fastapi", "uvicorn"}
CLASSIFIERS = {
    "Framework :: Apache Airflow",
    "Framework :: Apache Airflow :: Provider",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
}
URL_LABELS = {"Homepage", "Source", "Issues", "Changelog"}


def fail(message: str) -> None:
    raise SystemExit(f"check_dist: {message}")


def wheel_metadata(wheel: Path) -> tuple[Message, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [meta] = [n for n in names if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(meta).decode()), names


def sdist_metadata(sdist: Path) -> tuple[Message, list[str]]:
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        [info] = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
        handle = archive.extractfile(info)
        if handle is None:
            fail(f"{sdist.name}: PKG-INFO is not a file")
            raise AssertionError  # unreachable, for the type checker
        return Parser().parsestr(handle.read().decode()), names


def requirements(meta: Message) -> list[Requirement]:
    return [Requirement(line) for line in meta.get_all("Requires-Dist", [])]


def is_testing_extra(req: Requirement) -> bool:
    return (
        req.marker is not None
        and req.marker.evaluate({"extra": EXTRA})
        and not req.marker.evaluate({"extra": ""})
    )


def check_metadata(meta: Message, names: list[str], what: str) -> None:
    if meta["License-Expression"] != "Apache-2.0":
        fail(f"{what}: License-Expression is {meta['License-Expression']!r}")
    if "LICENSE" not in meta.get_all("License-File", []):
        fail(f"{what}: no License-File: LICENSE")
    if not any(n.endswith("LICENSE") for n in names):
        fail(f"{what}: the LICENSE file is not in the archive")
    missing = CLASSIFIERS - set(meta.get_all("Classifier", []))
    if missing:
        fail(f"{what}: classifiers missing: {sorted(missing)}")
    labels = {url.split(",", 1)[0].strip() for url in meta.get_all("Project-URL", [])}
    if URL_LABELS - labels:
        fail(f"{what}: project URLs missing: {sorted(URL_LABELS - labels)}")
    if EXTRA not in meta.get_all("Provides-Extra", []):
        fail(f"{what}: no [{EXTRA}] extra")
    for req in requirements(meta):
        if req.name in TESTING_ONLY and not is_testing_extra(req):
            fail(f"{what}: {req} is a runtime dependency; it belongs to the [{EXTRA}] extra")


def check_dist(dist: Path) -> int:
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    meta, names = wheel_metadata(wheel)
    check_metadata(meta, names, wheel.name)
    if not any(n.endswith(".dist-info/entry_points.txt") for n in names):
        fail(f"{wheel.name}: no entry points (Airflow finds the provider through apache_airflow_provider)")
    if any(n.startswith(("tests/", "benchmarks/", "scripts/")) for n in names):
        fail(f"{wheel.name}: test or development files are in the wheel")
    sdist_meta, sdist_names = sdist_metadata(sdist)
    check_metadata(sdist_meta, sdist_names, sdist.name)
    if not any(n.endswith("/CHANGELOG.md") for n in sdist_names):
        fail(f"{sdist.name}: CHANGELOG.md is missing")
    runtime = [str(r) for r in requirements(meta) if r.marker is None]
    testing = [str(r) for r in requirements(meta) if is_testing_extra(r)]
    print(f"{wheel.name}: {wheel.stat().st_size:,} bytes; {sdist.name}: {sdist.stat().st_size:,} bytes")
    print(f"  runtime dependencies: {', '.join(runtime)}")
    print(f"  [{EXTRA}] extra:      {', '.join(testing)}")
    print(f"  classifiers, URLs, License-File and LICENSE checked in both; {len(names)} files in the wheel")
    return 0


def direct_requirements(wheel: Path) -> list[Requirement]:
    meta, _ = wheel_metadata(wheel)
    return [r for r in requirements(meta) if r.marker is None or is_testing_extra(r)]


def print_requirements(wheel: Path) -> int:
    for req in direct_requirements(wheel):
        print(f"{req.name}{req.specifier}")
    return 0


def print_installed(wheel: Path) -> int:
    return check_floors(wheel, enforce=False)


def check_floors(wheel: Path, *, enforce: bool = True) -> int:
    wrong = []
    for req in direct_requirements(wheel):
        [floor] = [s.version for s in req.specifier if s.operator == ">="] or [None]
        installed = metadata.version(req.name)
        print(f"  {req.name:<42} floor {floor or '-':<10} installed {installed}")
        if enforce and floor is not None and installed != floor:
            wrong.append(f"{req.name} {installed} (declared floor {floor})")
    if wrong:
        fail("the declared floors are not what was installed: " + "; ".join(wrong))
    return 0


def main(argv: list[str]) -> int:
    commands = {
        "metadata": check_dist,
        "requirements": print_requirements,
        "installed": print_installed,
        "floors": check_floors,
    }
    if len(argv) != 2 or argv[0] not in commands:
        fail(f"usage: check_dist.py {{{'|'.join(commands)}}} PATH")
    return commands[argv[0]](Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
