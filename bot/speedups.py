"""Speedups for `run` and `serve`: uvloop as the event loop and orjson for the Bot API's answers,
each used only when installed (`pip install '.[speed]'`) and not switched off with SPEEDUPS=0
(`Settings.speedups`); and start-up objects kept out of the garbage collector's scans. Nothing
behaves differently with or without them; see bench/throughput.py (`--speedups`).
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], *, enabled: bool = True) -> T:
    """`asyncio.run(main)`, on uvloop's event loop when it is there (and `enabled`)."""
    if enabled:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(main)
    return asyncio.run(main)


def json_loads(*, enabled: bool = True) -> Callable[[bytes], Any] | None:
    """orjson's `loads` when it is there (and `enabled`), else None."""
    if not enabled:
        return None
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


def json_dumps(*, enabled: bool = True) -> Callable[[Any], str]:
    """JSON text: orjson's when it is there (and `enabled`), else the standard library's; what
    orjson refuses (an integer beyond 64 bits) goes to the standard library too."""
    fast = None
    if enabled:
        try:
            import orjson
        except ImportError:
            pass
        else:
            fast = orjson.dumps
    if fast is None:
        return json.dumps
    encode = fast

    def dumps(value: Any) -> str:
        try:
            return encode(value).decode()
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return json.dumps(value)

    return dumps


def settle() -> None:
    """Once started: what start-up built (dialogs, catalogs, the ORM's and PTB's classes, about
    200,000 objects) lives as long as the process, so the cyclic garbage collector need not
    scan it again and again (`gc.freeze`); it still collects everything made afterwards."""
    gc.collect()
    gc.freeze()
