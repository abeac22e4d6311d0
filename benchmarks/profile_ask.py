"""Where ``aiagents-tui ask``'s start-up CPU goes: an import ladder, and CPU at the request per tree.

    PYTHONPATH=. python benchmarks/profile_ask.py ladder [--runs 9]
    PYTHONPATH=. python benchmarks/profile_ask.py connect [--runs 9] [--baseline DIR] [--entry module]
    PYTHONPATH=. python benchmarks/profile_ask.py instructions [--runs 3] [--baseline DIR] [--entry module]

``ladder``: ``python -c`` with the libraries and modules ask needs added one step at a time (httpx's CLI
and h2 kept out, as ``cli.main`` does); the CPU time (``time.process_time``) at the end of each, medians
of interleaved runs. ``connect``: the CPU time of a real ``ask`` run (fake Anthropic server) at its
first ``socket.connect`` (an audit hook installed by ``sitecustomize`` from a temporary folder put
first on PYTHONPATH), i.e. everything before the request; with ``--baseline`` a second tree runs
interleaved. Both are CPU seconds, which a loaded machine inflates much less than wall time.
``instructions``: the same run under valgrind's callgrind, ended (``os._exit``) at its first
``socket.connect``: the instructions executed before the request, which do not depend on the load at all
(this VM runs ~3.4 million of them per ms of CPU). ``ask`` starts as the console script a user runs
(``aiagents-tui``, the tree first on PYTHONPATH) unless ``--entry module`` (``python -m tui_agents.cli``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402

LADDER = [
    ("interpreter (python -c pass)", ""),
    ("+ asyncio", "import asyncio"),
    ("+ pydantic, tui_agents.types", "import tui_agents.types"),
    ("+ httpx (its CLI skipped)", "import httpx"),
    ("+ cli parser (registry, modelscli, datacli, usage, ask)", "import tui_agents.cli as c; c.build_parser()"),
    ("+ config (AppConfig())", "import tui_agents.config as k; k.AppConfig()"),
    ("+ store (sqlite3, aiosqlite)", "import tui_agents.store"),
    ("+ runner, memory, approvals, events, workers",
     "import tui_agents.runner, tui_agents.memory, tui_agents.approvals, tui_agents.memory.tokens"),
    ("+ anthropic provider", "import tui_agents.providers.anthropic"),
    ("+ httpcore, anyio, h11 (h2 skipped)", "import httpcore, anyio, anyio.streams.tls, httpcore._backends.anyio"),
]

PROBE = '''import os, sys, time
def _hook(event, args):
    if event == "socket.connect" and not _hook.done:
        _hook.done = True
        os.write(2, f"PROBE {time.process_time() * 1000:.1f}\\n".encode())
_hook.done = False
sys.addaudithook(_hook)
'''


EXIT_PROBE = '''import os, sys
def _hook(event, args):
    if event == "socket.connect":
        os._exit(0)
sys.addaudithook(_hook)
'''

# At the first connect: the names of the modules loaded so far, written to $MODULES_OUT, then exit.
LIST_PROBE = '''import os, sys
def _hook(event, args):
    if event == "socket.connect":
        with open(os.environ["MODULES_OUT"], "w") as out:
            out.write("\\n".join(sys.modules))
        os._exit(0)
sys.addaudithook(_hook)
'''

# The libraries alone: every module ask has loaded at its connect except its own (and the probes), imported
# in the same order, plus one small pydantic model (pydantic's first-model warm-up); the collector and
# pydantic's plugin scan off, as in ask's start-up.
FLOOR = '''import gc, importlib, os, sys
gc.disable()  # as in ask's start-up
sys.modules["httpx._main"] = None; sys.modules["h2"] = None
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # as ask sets it
for name in open(sys.argv[1]).read().split():
    try:
        importlib.import_module(name)
    except ImportError:
        pass  # a platform's module that a library tried and did without (winreg, brotli...)
from pydantic import BaseModel
class _Warm(BaseModel):
    x: int = 1
_Warm()
'''

ENTRY = ["script"]  # set by --entry


def _ask_command() -> list[str]:
    """``aiagents-tui ask`` (the console script) or ``python -m tui_agents.cli ask``, asking Anthropic."""
    from bench_ask import ask_command  # this script's folder is on sys.path when it is run

    return ask_command("anthropic", ENTRY[0], via_python=True)


def _trees(baseline: str | None) -> dict[str, str]:
    """This tree (and the baseline's, labelled after / before) by label."""
    return {"after": str(ROOT), "before": str(Path(baseline).resolve())} if baseline else {"": str(ROOT)}


def _ask_env(tmp: str, tree: str, label: str, base_url: str) -> dict[str, str]:
    """ask's environment: the probe and ``tree`` on the path, a config and database per tree, the fake server."""
    env = _env(f"{tmp}/probe:{tree}")
    env.update(AIAGENTS_CONFIG=f"{tmp}/config.toml", AIAGENTS_DB=f"{tmp}/{label or 'run'}.db",
               ANTHROPIC_BASE_URL=base_url, ANTHROPIC_API_KEY="bench")
    return env


def _env(pythonpath: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = pythonpath
    return env


def ladder(runs: int) -> None:
    code = "import sys, time; sys.modules['httpx._main'] = None; sys.modules['h2'] = None\n"
    steps = []
    for label, line in LADDER:
        code += line + "\n"
        steps.append((label, code + "print(time.process_time() * 1000)"))
    results: dict[str, list[float]] = {label: [] for label, _ in steps}
    with tempfile.TemporaryDirectory() as tmp:  # not the checkout: -c puts the working directory on sys.path
        for _ in range(runs):
            for label, snippet in steps:
                out = subprocess.run([sys.executable, "-c", snippet], env=_env(str(ROOT)), capture_output=True,
                                     text=True, cwd=tmp, check=True)
                results[label].append(float(out.stdout))
    print(f"load {os.getloadavg()[0]:.2f}; medians of {runs} interleaved runs (CPU ms at the end of each step)")
    previous = 0.0
    for label, _ in steps:
        value = statistics.median(results[label])
        print(f"{value:7.1f} ms  (+{value - previous:5.1f})  {label}")
        previous = value


def connect(runs: int, baseline: str | None) -> None:
    trees = _trees(baseline)
    results: dict[str, list[float]] = {label: [] for label in trees}
    fake = FakeLLMServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "probe").mkdir()
            Path(tmp, "probe", "sitecustomize.py").write_text(PROBE)
            for round_ in range(runs + 1):  # the first round warms caches and is not kept
                for label, tree in trees.items():
                    fake.reset()
                    fake.script(Reply(text="Hello."), Reply(text="Title"))
                    env = _ask_env(tmp, tree, label, fake.base_url)
                    out = subprocess.run(_ask_command(), env=env, capture_output=True, text=True, cwd=tmp,
                                         check=True)
                    found = re.search(r"PROBE ([\d.]+)", out.stderr)
                    if round_ and found:
                        results[label].append(float(found.group(1)))
    finally:
        fake.stop()
    print(f"load {os.getloadavg()[0]:.2f}; CPU of ask at its first connect, medians of {runs} interleaved runs")
    for label, values in results.items():
        quartiles = statistics.quantiles(values)
        print(f"{statistics.median(values):7.1f} ms (q1 {quartiles[0]:.1f}, q3 {quartiles[2]:.1f})  {label or 'ask'}")


def instructions(runs: int, baseline: str | None) -> None:
    """Instructions (callgrind) of ``ask`` until its first ``socket.connect``, per tree, interleaved."""
    if shutil.which("valgrind") is None:
        raise SystemExit("instructions needs valgrind")
    trees = _trees(baseline)
    results: dict[str, list[float]] = {label: [] for label in trees}
    fake = FakeLLMServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "probe").mkdir()
            Path(tmp, "probe", "sitecustomize.py").write_text(EXIT_PROBE)
            for round_ in range(runs + 1):  # the first round writes byte code and the databases: not kept
                for label, tree in trees.items():
                    env = _ask_env(tmp, tree, label, fake.base_url)
                    count = _callgrind(_ask_command(), env, tmp)
                    if round_:
                        results[label].append(count)
        floor = _library_floor(str(ROOT), fake.base_url)
        interpreter = _interpreter_floor(str(ROOT))
    finally:
        fake.stop()
    print(f"instructions of ask before its first connect (callgrind), medians of {runs} interleaved runs")
    for label, values in results.items():
        print(f"{statistics.median(values):8.1f} M (min {min(values):.1f}, max {max(values):.1f})  {label or 'ask'}")
    if baseline:
        print(f"after / before: {statistics.median(results['after']) / statistics.median(results['before']):.3f}")
    print(f"{floor:8.1f} M  the libraries alone: python importing every non-tui_agents module ask has loaded "
          "at its connect, plus one small pydantic model")
    print(f"{interpreter:8.1f} M  the interpreter: python -c pass")


def _callgrind(command: list[str], env: dict[str, str], cwd: str) -> float:
    """Millions of instructions ``command`` executes (valgrind's callgrind)."""
    out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cwd}/cg.out", "--cache-sim=no",
                          "--branch-sim=no", *command], env=env, capture_output=True, text=True, cwd=cwd)
    found = re.search(r"Collected : ([\d,]+)", out.stderr)
    if found is None:
        raise SystemExit(f"no callgrind total: {out.stderr[-500:]}")
    return int(found.group(1).replace(",", "")) / 1e6


def library_floor_command(tree: str, base_url: str, folder: str) -> list[str]:
    """A command importing only the libraries ``ask`` (of ``tree``, asking the server at ``base_url``) has loaded
    when it connects, in the same order: its script and module list are written into ``folder``. Run it with
    ``tree`` on PYTHONPATH (``_env``)."""
    Path(folder, "probe").mkdir()
    Path(folder, "probe", "sitecustomize.py").write_text(LIST_PROBE)
    env = _env(f"{folder}/probe:{tree}")
    env.update(AIAGENTS_CONFIG=f"{folder}/config.toml", AIAGENTS_DB=f"{folder}/floor.db",
               ANTHROPIC_BASE_URL=base_url, ANTHROPIC_API_KEY="bench", MODULES_OUT=f"{folder}/modules.txt")
    subprocess.run(_ask_command(), env=env, capture_output=True, cwd=folder)
    names = [name for name in Path(folder, "modules.txt").read_text().split()
             if name.split(".")[0] not in ("tui_agents", "__main__", "sitecustomize")]
    Path(folder, "modules.txt").write_text("\n".join(names))
    Path(folder, "floor.py").write_text(FLOOR)
    command = [sys.executable, f"{folder}/floor.py", f"{folder}/modules.txt"]
    subprocess.run(command, env=_env(tree), check=True, cwd=folder)  # byte code
    return command


def _library_floor(tree: str, base_url: str) -> float:
    """Instructions of a process that imports only the libraries ask has loaded when it connects."""
    with tempfile.TemporaryDirectory() as tmp:
        command = library_floor_command(tree, base_url, tmp)
        return statistics.median(_callgrind(command, _env(tree), tmp) for _ in range(2))


def _interpreter_floor(tree: str) -> float:
    """Instructions of ``python -c pass`` (with the same PYTHONPATH and site-packages)."""
    with tempfile.TemporaryDirectory() as tmp:
        return _callgrind([sys.executable, "-c", "pass"], _env(tree), tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("ladder", "connect", "instructions"))
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline", metavar="DIR", help="another tree's tui_agents (connect, instructions)")
    parser.add_argument("--entry", choices=("script", "module"), default="script",
                        help="start ask as the console script (default) or with python -m tui_agents.cli")
    args = parser.parse_args()
    ENTRY[0] = args.entry
    if args.what == "ladder":
        ladder(args.runs)
    elif args.what == "connect":
        connect(args.runs, args.baseline)
    else:
        instructions(args.runs, args.baseline)


if __name__ == "__main__":
    main()
