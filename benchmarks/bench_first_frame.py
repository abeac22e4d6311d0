"""Launch -> first screen (and, with ``--bigdb``, -> thread list drawn): wall and CPU seconds, apps interleaved.

    python3 benchmarks/bench_first_frame.py --tree new=. --tree base=/tmp/base --bare [--bigdb FILE] [--runs 9]

Each launch runs ``aiagents-tui --provider ollama --model bench-model --db FILE`` from one tree (the shared
venv's interpreter, ``PYTHONPATH`` = the tree; or ``benchmarks/bare_textual_app.py`` with ``--bare``) in a
120x40 pseudo-terminal with a fresh HOME and XDG dirs, as the shared harness does (no LLM server: nothing
before the markers talks to one). A hook in the process (it wraps Textual's ``App._display``, the same for
every app) exits right after the first frame is written (with ``--bigdb``: the first frame that shows thread
rows), so the CPU figure is the process's own user+sys time up to that frame (``wait4``), all threads, which
is steadier than wall time on a loaded machine. Wall times: launch -> the marker's text in the terminal's
output ("aiagents-tui" / "bare-textual" for the first screen; the newest thread's label of
``benchmarks/gen_bigdb.py``'s database for the list). Each app has one unmeasured warm-up launch (it writes
the bytecode of changed modules); then apps run in turn, the order alternating per round; medians per app
(min-max), with the load before and after.

``--callgrind`` counts instead the instructions the process executes until the first screen (or, with
``--bigdb``, until the first frame that shows thread rows) under ``valgrind --tool=callgrind``: the app
exits right after writing that frame. The count does not depend on the machine's load (two launches of
one tree differ by < 0.1 %), so it settles an A/B that wall and CPU time on a shared machine cannot;
one launch per app is enough, each about 50x slower than native.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "/work/main/.venv/bin/python"
TICK = os.sysconf("SC_CLK_TCK")
BIG_LABEL = b"To anhoonda you"  # the newest thread's first words in gen_bigdb.py's default database
RUN_APP = "from tui_agents.cli import main; main()"
RUN_BARE = "import runpy; runpy.run_path({path!r}, run_name='__main__')"
# Under --callgrind: exit once the frame that ends the measurement is written (Textual's App._display).
EXIT_AT_FRAME = """
import os, textual.app
_display = textual.app.App._display
def display(app, screen, renderable):
    _display(app, screen, renderable)
    if renderable is None or app._driver is None:
        return
    if {list!r}:  # thread rows: the tree's, or the first frame's preview of them (from 2026-12-05 s4 on)
        previewing = any(getattr(bar, "previewing", False) for bar in screen.query("#sidebar"))
        if not previewing:  # the tree's module loads after the first frame (from 2026-12-05 s5 on): not before
            from tui_agents.tui.widgets.sidebar import ThreadTree
            trees = screen.query(ThreadTree)
            if not trees or not trees.first().root.children:
                return
    writer = getattr(app._driver, "_writer_thread", None)
    if writer is not None:
        writer.stop()  # the frame reaches the terminal (Textual writes it from a thread)
    os._exit(0)
textual.app.App._display = display
{body}
"""


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def launch(name: str, tree: Path | None, bigdb: Path | None, timeout: float, callgrind: bool = False,
           keep: Path | None = None) -> dict:
    """One launch: seconds at each marker and the CPU seconds of the process (or, with ``callgrind``, the
    instructions) until it exits right after the last frame measured."""
    home = Path(tempfile.mkdtemp(prefix="bench-ff-"))
    db = home / "db.sqlite"
    if bigdb is not None:
        shutil.copyfile(bigdb, db)
    env = {
        "PATH": os.environ["PATH"], "HOME": str(home), "TERM": "xterm-256color", "COLORTERM": "truecolor",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
        "XDG_CACHE_HOME": f"{home}/cache", "XDG_STATE_HOME": f"{home}/state",
        "TIKTOKEN_CACHE_DIR": f"{home}/cache/tiktoken", "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "OLLAMA_HOST": "127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost",
    }
    if tree is None:
        body, markers = RUN_BARE.format(path=str(ROOT / "benchmarks" / "bare_textual_app.py")), [b"bare-textual"]
        args: list[str] = []
    else:
        env["PYTHONPATH"] = str(tree)
        body, markers = RUN_APP, [b"aiagents-tui"] + ([BIG_LABEL] if bigdb is not None else [])
        args = ["--provider", "ollama", "--model", "bench-model", "--db", str(db)]
    boot = EXIT_AT_FRAME.format(list=bigdb is not None and tree is not None, body=body)
    cmd = [PYTHON, "-c", boot, *args]
    if callgrind:
        env["PYTHONHASHSEED"] = "0"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={home}/callgrind.out", "--cache-sim=no",
               "--branch-sim=no", *cmd]
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:  # the size is set before the app starts, as tmux does: it lays out once, at 120x40
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.chdir(home)  # "python -c" puts the working directory first on sys.path: only PYTHONPATH's tree counts
        os.execvpe(cmd[0], cmd, env)
    if callgrind:
        return _instructions(pid, fd, home, timeout * 100, keep and keep / f"callgrind.{name}.{time.time_ns()}")
    out = bytearray()
    seen: dict[str, float] = {}
    usage = None
    try:
        deadline = t0 + timeout
        while usage is None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise TimeoutError(f"{name}: no frame in {timeout} s")
            if select.select([fd], [], [], 0.01)[0]:
                try:
                    out += os.read(fd, 1 << 20)
                except OSError:
                    pass
            now = time.monotonic()
            for marker in markers:
                if marker.decode() not in seen and marker in out:
                    seen[marker.decode()] = now - t0
            done, _, rusage = os.wait4(pid, os.WNOHANG)
            if done:
                usage = rusage
        while select.select([fd], [], [], 0)[0]:  # what it wrote just before it exited
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        now = time.monotonic()
        for marker in markers:
            if marker.decode() not in seen and marker in out:
                seen[marker.decode()] = now - t0
    finally:
        os.close(fd)
        shutil.rmtree(home, ignore_errors=True)
    result = {m: {"s": round(s, 4)} for m, s in seen.items()}
    result["cpu"] = {"user": round(usage.ru_utime, 4), "sys": round(usage.ru_stime, 4),
                     "faults": usage.ru_minflt + usage.ru_majflt}
    return result


def _instructions(pid: int, fd: int, home: Path, timeout: float, keep: Path | None = None) -> dict:
    """Wait for the app under callgrind to exit at its frame; the instructions it executed."""
    deadline = time.monotonic() + timeout
    try:
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise TimeoutError("no frame under callgrind")
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    os.read(fd, 1 << 20)
                except OSError:
                    pass
        if keep is not None:  # for callgrind_annotate
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(home / "callgrind.out", keep)
        totals = [line for line in (home / "callgrind.out").read_text().splitlines() if line.startswith("totals:")]
        return {"instructions": {"M": round(int(totals[0].split()[1]) / 1e6, 1)}}
    finally:
        os.close(fd)
        shutil.rmtree(home, ignore_errors=True)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=PATH", help="aiagents-tui from this tree")
    ap.add_argument("--bare", action="store_true", help="also the bare Textual app (benchmarks/bare_textual_app.py)")
    ap.add_argument("--bigdb", type=Path, help="a copy of this database per launch; also time the thread list")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--json", type=Path, help="write every sample here")
    ap.add_argument("--callgrind", action="store_true", help="count instructions to the frame (valgrind)")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="with --callgrind: keep each callgrind.out here")
    args = ap.parse_args()
    apps: list[tuple[str, Path | None]] = [(t.split("=", 1)[0], Path(t.split("=", 1)[1]).resolve()) for t in args.tree]
    if args.bare:
        apps.append(("bare-textual", None))
    samples: dict[str, list[dict]] = {name: [] for name, _ in apps}
    for name, tree in apps:  # a warm-up launch each: Python writes the bytecode of changed modules
        launch(name, tree, args.bigdb, args.timeout)
    loads = [load()]
    for r in range(args.runs):
        order = apps if r % 2 == 0 else apps[::-1]
        for name, tree in order:
            samples[name].append(launch(name, tree, args.bigdb, args.timeout, args.callgrind, args.keep))
    loads.append(load())
    if args.callgrind:
        print(f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, instructions (millions) until "
              f"{'the thread list is drawn' if args.bigdb else 'the first screen'}, {args.runs} launch(es) per app")
        for name, rows in samples.items():
            print(f"| {name} | {' / '.join(str(row['instructions']['M']) for row in rows)} |")
        return 0
    if args.json:
        args.json.write_text(json.dumps({"load": loads, "samples": samples}, indent=2) + "\n")
    print(f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load {loads[0]:.2f} / {loads[1]:.2f}, "
          f"{args.runs} launches per app, medians (min-max)")
    shown = ["first screen", "thread list"][:1 + bool(args.bigdb)]
    print("| app | wall s to " + " / ".join(shown)
          + " | CPU s (user+sys) to the last | of which sys | page faults |")
    print("|---|---|---|---|---|")
    for name, rows in samples.items():
        markers = [m for m in rows[0] if m != "cpu"]
        walls = " / ".join(_spread([row[m]["s"] for row in rows if m in row]) for m in markers)
        cpu = _spread([row["cpu"]["user"] + row["cpu"]["sys"] for row in rows])
        sys_ = _spread([row["cpu"]["sys"] for row in rows])
        print(f"| {name} | {walls} | {cpu} | {sys_} | {statistics.median(row['cpu']['faults'] for row in rows):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
