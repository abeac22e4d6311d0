"""Several processes share one Redis-backed limit: no window ever admits more than the limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
RPM = 15
WINDOW = 1.0
SECONDS = 3.0


@pytest.mark.slow
def test_processes_sharing_a_limit_never_exceed_it_in_any_window(redis_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "tests.limits._hammer", redis_url, "shared:model"]
    args += [str(RPM), str(WINDOW), str(SECONDS)]
    procs = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)

    per_process = [[int(line) for line in out.split()] for out in outputs]
    times = sorted(t for admitted in per_process for t in admitted)
    window_us = int(WINDOW * 1_000_000)
    # Any RPM + 1 admissions must span at least one whole window (server time, µs).
    crowded = [(times[i], times[i + RPM]) for i in range(len(times) - RPM) if times[i + RPM] - times[i] < window_us]
    assert crowded == []
    # And the limit was really contended: the window slid several times, through several processes.
    assert len(times) >= 2 * RPM
    assert sum(1 for admitted in per_process if admitted) >= 2
