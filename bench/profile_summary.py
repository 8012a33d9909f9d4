"""Summarises a py-spy profile (`--format raw`, collapsed stacks) of bench/throughput.py.

    python bench/profile_summary.py FILE [--top 15]

Prints where the samples were (the leaf frame's library: self time) and the share of samples
inside each library anywhere on the stack (inclusive), then the hottest functions by self time.
Idle samples (the event loop waiting in select/epoll, a worker thread waiting for work) are
counted apart, so the shares are of the busy samples.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Leaf frames of waiting, not working (py-spy cannot always tell: a thread blocked in C).
IDLE = ("select (selectors.py", "_worker (concurrent/futures/thread.py", "wait (threading.py",
        "get (queue.py", "_connection_worker_thread (aiosqlite/core.py:59)")  # fmt: skip
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


def library(frame: str) -> str:
    """The package of a frame: py-spy names files from their import root (`sqlalchemy/..`)."""
    match = FRAME.match(frame)
    path = match.group("file") if match else frame
    path = path.split("site-packages/", 1)[-1]
    top = path.split("/", 1)[0].removesuffix(".py")
    if top == "bot":
        return "bot (ours)"
    if top in ("bench", "tests"):
        return "bench"
    return top or "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    self_lib: Counter[str] = Counter()
    incl_lib: Counter[str] = Counter()
    self_func: Counter[str] = Counter()
    busy = idle = 0
    for line in args.file.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in IDLE) or "epoll" in frames[-1]:
            idle += count
            continue
        busy += count
        leaf = frames[-1]
        self_lib[library(leaf)] += count
        self_func[leaf] += count
        for lib in {library(f) for f in frames}:
            incl_lib[lib] += count
    print(f"{busy} busy samples ({idle} idle apart)")
    print(f"{'library':<28}{'self':>7}{'inclusive':>11}")
    for lib, count in self_lib.most_common(args.top):
        print(f"{lib:<28}{count / busy:>7.1%}{incl_lib[lib] / busy:>11.1%}")
    print("hottest functions (self):")
    for func, count in self_func.most_common(args.top):
        print(f"{count / busy:>6.1%}  {func[:110]}")


if __name__ == "__main__":
    main()
