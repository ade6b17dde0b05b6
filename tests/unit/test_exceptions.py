"""The error tree drawn in exceptions.py is the real one, and runtime code raises only from it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from airflow_assemblyai import exceptions
from airflow_assemblyai.exceptions import AssemblyAIError

PACKAGE = Path(exceptions.__file__).parent
#: Names runtime code may raise besides the tree: Airflow's control flow and private retry signals.
ALSO_ALLOWED = {
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "TaskDeferred",
    "_Interrupted",
    "_RetryableStatus",
}


def drawn_tree() -> dict[str, str]:
    """Return ``{class name: parent name}`` as the module docstring draws it."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (exceptions.__doc__ or "").splitlines():
        match = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Za-z]+)\b", line)
        if not match or not match.group(2).endswith(("Error", "Exception")):
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[match.group(2)] = stack[-1][1]
        stack.append((depth, match.group(2)))
    return parents


def test_every_error_class_is_drawn_under_its_real_parent() -> None:
    tree = drawn_tree()
    classes = {
        name: cls
        for name, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, AssemblyAIError)
    }
    assert set(classes) - {"AssemblyAIError"} == set(tree) - {"AssemblyAIError"}
    for name, parent in tree.items():
        if name in classes:
            assert parent in {base.__name__ for base in classes[name].__bases__}, (name, parent)


def test_runtime_code_raises_only_errors_of_the_tree() -> None:
    raised: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "testing" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name.lstrip("_")[:1].isupper():  # a class; lower-case names are error factories
                    raised.add(name)
    tree_names = {name for name, cls in vars(exceptions).items() if isinstance(cls, type)}
    assert raised - tree_names - ALSO_ALLOWED == set()
    assert raised & tree_names  # the walk found the provider's own raises
