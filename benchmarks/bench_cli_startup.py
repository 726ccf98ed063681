"""Benchmark of the ``lesionbench`` command's start-up time.

Runs, each in a fresh subprocess, ``python -c pass`` (the interpreter's own start-up),
``lesionbench --help``, ``lesionbench --version`` and ``lesionbench VERB --help`` for every verb,
and prints the median wall time of N runs of each, with the interpreter's start-up subtracted.
The verbs are started as ``python -m lesionbench.cli`` with the same interpreter, so the
console-script wrapper's own cost (small) is not in the figures. The aim is at most 0.3 s
above the interpreter for every line; lines over it are marked ``*``.

Usage: .venv/bin/python benchmarks/bench_cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3


def median_wall(command: list[str], runs: int) -> float:
    """Median wall time (s) of ``runs`` subprocess runs of ``command`` (output discarded)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="subprocess runs per command (default: 7)")
    args = parser.parse_args()

    from lesionbench.cli import VERBS

    python = [sys.executable]
    cli = [*python, "-m", "lesionbench.cli"]
    base = median_wall([*python, "-c", "pass"], args.runs)
    print(f"python -c pass: {base:.3f} s (median of {args.runs}); figures below are above it")
    cases = [("lesionbench --help", [*cli, "--help"]), ("lesionbench --version", [*cli, "--version"])]
    cases += [(f"lesionbench {verb} --help", [*cli, verb, "--help"]) for verb in VERBS]
    for label, command in cases:
        extra = median_wall(command, args.runs) - base
        flag = " *" if extra > TARGET_S else ""
        print(f"{label:<32} {extra:6.3f} s{flag}")


if __name__ == "__main__":
    main()
