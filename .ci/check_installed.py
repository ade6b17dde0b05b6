"""Check an installed (not editable) provider as Airflow sees it: the package, the connection form, the DAGs.

    python .ci/check_installed.py DAGS_FOLDER

Run it with the interpreter of the environment under test, from outside the repository, so that
``airflow_assemblyai`` can only come from that environment's site-packages.
"""

from __future__ import annotations

import sys
from pathlib import Path


def fail(message: str) -> None:
    raise SystemExit(f"check_installed: {message}")


def check_package() -> None:
    import airflow_assemblyai

    where = Path(airflow_assemblyai.__file__).resolve()
    if "site-packages" not in where.parts:
        fail(f"airflow_assemblyai is imported from {where}, not from an installed wheel")
    print(f"  package:          {where.parent}")


def check_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager

    from airflow_assemblyai import get_provider_info

    [connection] = get_provider_info()["connection-types"]
    conn_type = connection["connection-type"]
    manager = ProvidersManager()
    if "airflow-provider-assemblyai" not in manager.providers:
        fail("Airflow's ProvidersManager does not list airflow-provider-assemblyai")
    widgets = manager.connection_form_widgets
    expected = {f"extra__{conn_type}__{name}" for name in connection["conn-fields"]}
    missing = expected - set(widgets)
    if missing:
        fail(f"connection form fields not registered: {sorted(missing)}")
    behaviour = manager.field_behaviours.get(conn_type)
    declared = connection["ui-field-behaviour"]
    if behaviour is None or behaviour.get("hidden_fields") != declared["hidden-fields"]:
        fail(f"field behaviour of {conn_type!r} not registered as declared: {behaviour}")
    if behaviour.get("relabeling") != declared["relabeling"]:
        fail(f"relabeled fields differ: {behaviour.get('relabeling')}")
    labels = [_label(widgets[key].field) or key for key in sorted(expected)]
    print(f"  connection form:  {conn_type}: {', '.join(map(str, labels))}")
    print(f"  relabeled fields: {declared['relabeling']}")


def _label(field: object) -> str | None:
    """Return a form field's label: a JSON-schema title (Airflow 3) or a WTForms label."""
    if isinstance(field, dict):
        return field.get("schema", {}).get("title")
    return getattr(field, "kwargs", {}).get("label")


def check_dags(folder: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    files = sorted(folder.glob("*.py"))
    bag = DagBag(dag_folder=str(folder))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES=False
    if bag.import_errors:
        fail(f"example DAGs fail to import: {bag.import_errors}")
    if not files or len(bag.dags) < len(files):
        fail(f"{len(files)} DAG files gave {len(bag.dags)} DAGs: {sorted(bag.dags)}")
    print(f"  example DAGs:     {', '.join(sorted(bag.dags))} import cleanly")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        fail("usage: check_installed.py DAGS_FOLDER")
    check_package()
    check_connection_form()
    check_dags(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
