"""The layout rules the README states, checked on the import statements of bot/: no feature
imports another feature's tables, and the infrastructure (app core, engine, text, jobs, transport,
db) imports no feature; only the wiring in bot/app/runtime.py loads them all."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
INFRASTRUCTURE = ("app", "engine", "text", "jobs", "transport", "db", "console")
WIRING = {BOT / "app" / "runtime.py", BOT / "db" / "migrations" / "env.py"}


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_no_feature_imports_the_tables_of_another_feature() -> None:
    offences = []
    for path in sorted((BOT / "features").rglob("*.py")):
        parts = path.relative_to(BOT / "features").parts
        if len(parts) < 2:
            continue  # bot/features/__init__.py wires the features together
        own = parts[0]
        for module in imported_modules(path):
            bits = module.split(".")
            if bits[:2] == ["bot", "features"] and len(bits) >= 4 and bits[3] == "models":
                if bits[2] != own:
                    offences.append(f"{path.relative_to(BOT)} imports {module}")
    assert offences == []


def test_the_infrastructure_imports_no_feature() -> None:
    offences = []
    for package in INFRASTRUCTURE:
        for path in sorted((BOT / package).rglob("*.py")):
            if path in WIRING:
                continue
            offences += [
                f"{path.relative_to(BOT)} imports {module}"
                for module in imported_modules(path)
                if module.startswith("bot.features")
            ]
    assert offences == []


def test_the_rule_sees_an_offending_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from bot.features.staff.models import StaffMember\n")
    assert "bot.features.staff.models" in imported_modules(sample)
