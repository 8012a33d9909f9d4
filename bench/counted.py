"""Runs a bot for bench/throughput.py and counts its SQL statements and transactions.

    python bench/counted.py -m bot run        (our bot, as `python -m bot run`)
    python bench/counted.py bench/updater_bot.py

SQLAlchemy engine events count statements sent to the driver (`before_cursor_execute`),
transactions (`begin`) and, when `pool_pre_ping` is on, the ping of each pool checkout. On SIGUSR1
the counts so far go as JSON to the file named by BENCH_STATS (the bench reads them before and
after its measured window). The listeners cost a few microseconds per statement.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

COUNTS = {"statements": 0, "transactions": 0, "checkouts": 0, "pings": 0, "dumps": 0,
          "gc_us": 0}  # fmt: skip
# BENCH_STATEMENTS=FILE: also write how often each statement ran (its first 150 characters).
TEXTS: Counter[str] = Counter()
BY_TEXT = bool(os.environ.get("BENCH_STATEMENTS"))


@event.listens_for(Engine, "before_cursor_execute")
def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    COUNTS["statements"] += 1
    if BY_TEXT:
        TEXTS[" ".join(statement.split())[:150]] += 1


@event.listens_for(Engine, "begin")
def _begin(*_args: Any) -> None:
    COUNTS["transactions"] += 1


@event.listens_for(Pool, "checkout")
def _checkout(_dbapi: Any, _record: Any, _proxy: Any) -> None:
    COUNTS["checkouts"] += 1


@event.listens_for(Engine, "engine_connect")
def _connect(connection: Any) -> None:
    if connection.engine.pool._pre_ping:
        COUNTS["pings"] += 1


_GC_STARTED = [0.0]


def _gc(phase: str, _info: dict[str, Any]) -> None:
    """Time in the cyclic garbage collector (µs): it runs in whatever frame allocated."""
    if phase == "start":
        _GC_STARTED[0] = time.perf_counter()
    else:
        COUNTS["gc_us"] += int((time.perf_counter() - _GC_STARTED[0]) * 1e6)


gc.callbacks.append(_gc)


def _dump(*_args: Any) -> None:
    COUNTS["dumps"] += 1
    target = Path(os.environ["BENCH_STATS"])
    partial = target.with_suffix(".part")
    partial.write_text(json.dumps(COUNTS))
    partial.replace(target)
    if BY_TEXT:
        lines = [f"{n:>7} {text}" for text, n in TEXTS.most_common()]
        Path(os.environ["BENCH_STATEMENTS"]).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _dump)
    if sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [module, *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        path = sys.argv[1]
        sys.argv = sys.argv[1:]
        runpy.run_path(path, run_name="__main__")
