"""No campaign state change without its callback event: every function that moves a
campaign's ``state`` also calls ``record_state`` in the same transaction.

A static check over the source, so that a new writer added later cannot forget the event
(receivers would silently miss a state). ``control._compare_and_set`` takes its values as
``**values`` and records them itself; ``api._plan_and_store`` records through
``_open_callbacks``. A statement built once at module level (``api._PLANNED``) counts for
every function that uses it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORDERS = {"record_state", "_open_callbacks"}
STATE_SQL = "UPDATE campaigns SET state"


def _moves_state(node: ast.AST, sql_names: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in sql_names:
            return True
        if not (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)):
            continue
        if sub.func.attr != "values" or not any(k.arg == "state" for k in sub.keywords):
            continue
        chain = ast.unparse(sub.func.value)
        if "update(Campaign)" in chain or "update(CAMPAIGNS)" in chain:
            return True
    return False


def _calls(node: ast.AST) -> set[str]:
    return {
        sub.func.id if isinstance(sub.func, ast.Name) else getattr(sub.func, "attr", "")
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call)
    }


def _writers() -> dict[str, bool]:
    """Function (module:name) -> whether it records, for every function moving a state."""
    found: dict[str, bool] = {}
    for package in ("campaigns", "worker"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            sql_names = {
                target.id
                for stmt in tree.body if isinstance(stmt, ast.Assign)
                for target in stmt.targets if isinstance(target, ast.Name)
                if STATE_SQL in ast.unparse(stmt.value) or _moves_state(stmt.value, set())
            }  # fmt: skip
            for fn in ast.walk(tree):
                if isinstance(fn, ast.FunctionDef) and _moves_state(fn, sql_names):
                    name = f"{path.relative_to(ROOT).with_suffix('')}:{fn.name}"
                    found[name] = bool(_calls(fn) & RECORDERS)
    return found


def test_every_function_that_moves_a_campaign_records_its_callback_event() -> None:
    writers = _writers()
    assert len(writers) >= 6  # the check sees them: submit, dispatch, tick, pause, complete
    assert {name for name, records in writers.items() if not records} == set()
    assert "worker/store:complete_if_done" in writers  # the raw-SQL one is seen too
