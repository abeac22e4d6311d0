"""``calculate`` answers every expression quickly: a result or a plain refusal, never a hang.

Each case runs in a worker subprocess (one per batch, reused while it stays
healthy) that the test kills if it does not answer in time: an evaluation
stuck inside C code holds the interpreter lock, so only another process can
bound it.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_agents.tools import get_tool
from tui_agents.tools.builtin.calculator import FUNCTIONS

CPU_LIMIT = 1.0  # seconds of CPU per call: the promise, immune to how loaded the machine is
WALL_LIMIT = 15.0  # seconds of wall time before a case counts as hung (generous: 8 agents share 2 cores)
WORKER = Path(__file__).with_name("_calc_worker.py")
ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """A long-lived evaluator subprocess; restarted after a case that hung it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.Popen(
            [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def ask(self, expression: str) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        self.proc.stdin.write(json.dumps(expression) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], WALL_LIMIT)
        if not ready:
            self.close()
            pytest.fail(f"calculate({expression!r}) did not return within {WALL_LIMIT:g} s")
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            pytest.fail(f"calculate({expression!r}) killed its process")
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def check(worker: Worker, expression: str) -> str:
    answer = worker.ask(expression)
    outcome = answer["outcome"]
    assert not outcome.startswith("crash:"), f"{expression!r}: {outcome}"
    assert answer["cpu"] < CPU_LIMIT, f"{expression!r} took {answer['cpu']:.2f} s of CPU"
    if outcome.startswith("refused:"):
        # A plain sentence for the model: no traceback, no exception class name (beyond what it quotes).
        reason = outcome.removeprefix("refused:").replace(repr(expression), "")
        assert reason.endswith(".") and not re.search(r"Traceback|[A-Z][a-z]+Error\b", reason), reason
    return outcome


HOSTILE = [
    "round(5, -10**300)",
    "round(10**999, -10**300)",
    "round(-5.5, -10**300)",
    "round(5, 10**300)",
    "round(1e308, -(10**999))",
    "9**9**9**9",
    "(10**999)**(10**999)",
    "10**999 * 10**999",
    "factorial(10**300)",
    "factorial(factorial(10))",
    "factorial(1000)*factorial(1000)",
    "1**(10**999)",
    "(-1)**(10**999+1)",
    "0**-(10**999)",
    "2.0**(10**999)",
    "hypot(" + ",".join(["10**999"] * 50) + ")",
    "max(" + ",".join(["10**999"] * 60) + ")",
    "min(5)",
    "exp(10**999)",
    "sqrt(10**999)",
    "log(10**999, 1)",
    "10**999 // 3 % 7 / 9",
    "9" * 999,
    "0x" + "f" * 997,
    "1" + "0" * 5000,
    "-" * 999 + "1",
    "(" * 300 + "1" + ")" * 300,
    "sqrt(" * 150 + "2" + ")" * 150,
    "+".join(["10**999"] * 120),
    "*".join(["99"] * 300),
    "**".join(["2"] * 300),
    "1e308 % 7",
    "round(0.5, -10**999)",
    "degrees(10**999)",
    "\x00",
    "\u202e1+1",
    "😀 + 1",
]


@pytest.mark.parametrize("expression", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_expressions_answer_quickly(worker, expression):
    check(worker, expression)


async def test_round_with_a_huge_negative_digit_count_is_zero():
    # The case that froze the app: Python builds 10**(10**300) before rounding.
    result = await get_tool("calculate").run({"expression": "round(5, -10**300)"})
    assert (result.status, result.content) == ("ok", "0")
    result = await get_tool("calculate").run({"expression": "round(123456, -2)"})
    assert result.content == "123500"


# --- fuzzing: arithmetic built from hostile parts, and arbitrary text ---

_BIG = ["10**300", "10**999", "-10**300", "9" * 300, "1e308", "2**3000", "factorial(400)"]
atoms = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "1", "-1", "2", "0.5", "pi", "e", "tau", *_BIG]),
)


def _compound(children):
    binary = st.builds(
        lambda a, op, b: f"({a}){op}({b})", children, st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "^"]), children
    )
    unary = st.builds(lambda op, a: f"{op}({a})", st.sampled_from(["-", "+", "--"]), children)
    call = st.builds(
        lambda name, args: f"{name}({', '.join(args)})",
        st.sampled_from(sorted(FUNCTIONS)),
        st.lists(children, min_size=1, max_size=3),
    )
    return st.one_of(binary, unary, call)


expressions = st.one_of(
    st.recursive(atoms, _compound, max_leaves=25),
    st.text(alphabet="0123456789+-*/%^(). e,", max_size=1100),
    st.text(max_size=1100),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(expression=expressions)
def test_any_expression_answers_quickly_with_a_result_or_a_plain_refusal(worker, expression):
    check(worker, expression)
