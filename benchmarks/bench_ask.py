"""``aiagents-tui ask``: start-up and first-token latency, against the fake LLM server on loopback.

    PYTHONPATH=. python benchmarks/bench_ask.py [--runs 7] [--baseline DIR] [--scenario NAME]

Cases (each a fresh ``aiagents-tui ask`` process, the console script a user runs, with the tree under test
first on PYTHONPATH; ``--entry module`` runs ``python -m tui_agents.cli ask`` instead, as the runs before
2026-12-05 session 4 did: runpy and the extra path entry cost it ~6 ms; a real SQLite file):
Scenarios: ``anthropic`` (its key in the environment), ``ollama`` (the default provider, a local
server without a key; its first request may be ``/api/show`` for the context window) and ``openai``
with gpt-4o (exact token counts with tiktoken's o200k encoding: before 2026-12-05 session 3 it loaded
before the request; a new thread's first message is now counted once the reply is in). ``anthropic over
https``: the fake serves TLS with a self-signed certificate, trusted through ``SSL_CERT_FILE`` = certifi's
bundle plus that certificate, so the client loads as many CA certificates as with the real API (needs the
``openssl`` command); its start-up includes the TLS context and the handshake, as a real user's does.

- ``startup``: process spawn -> the chat request arrives at the server (interpreter, imports,
  config, database open, user message saved). Target <= 300 ms.
- ``first token (pipe)``: the server's first reply byte (stamped by the fake as it writes the
  response head) -> the first reply byte read from the child's stdout (plain text into a pipe).
  Target <= 150 ms.
- ``first token (tty)``: the same on a pseudo-terminal, where the reply is rendered Markdown
  (anthropic only); the server thinks 0.4 s, and once answers at once (what loads while the
  server thinks is then on the first token's path).
- ``whole run``: spawn -> exit for a two-sentence reply (includes the title request).
- ``CPU time``: user + sys seconds of the ``ask`` process, less sensitive to load than wall time:
  of the whole run, and of the start-up (read from ``/proc`` as the request arrives).
- floors: ``python -c pass`` and ``python -c "import httpx"`` (with httpx's command line, which ``ask``
  skips), to read the others against this machine's load; and the libraries alone: a process importing, in
  order, every module but ``tui_agents``'s that this tree's ``ask`` (anthropic, plain http) has loaded when
  it sends its request, plus one small pydantic model (``profile_ask.library_floor_command``): what ``ask``
  would cost if its own code cost nothing.

``--baseline DIR`` runs a second tree's ``tui_agents`` (e.g. ``git archive <commit> | tar -x -C DIR``)
interleaved with this one, round by round (the two taking turns going first), so both see the same load; the
start-up's difference is also given paired by round, which a load that drifts during the run moves less.
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402

LIBRARY_FLOOR = "the libraries alone (every module but tui_agents's that `anthropic` has loaded at its request)"
FIRST_DELAY = 0.4  # the server thinks a while, as a real one does
REPLY = "Hello there. This is a **short** reply."


def _env(fake: FakeLLMServer, tmp: str) -> dict[str, str]:
    # Byte-code caching on, as in an installed package (this machine's shells set PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": f"{tmp}/config.toml", "AIAGENTS_DB": f"{tmp}/bench.db",
                "ANTHROPIC_BASE_URL": fake.base_url, "OLLAMA_HOST": fake.base_url,
                "OPENAI_BASE_URL": fake.base_url + "/v1",
                "TERM": "xterm-256color"})
    return env


# name -> (provider, extra env): Anthropic with its key in the environment; Ollama, the default provider,
# a local server without a key; OpenAI, whose models' exact token counts need tiktoken's o200k encoding.
SCENARIOS: dict[str, tuple[str, dict[str, str]]] = {
    "anthropic": ("anthropic", {"ANTHROPIC_API_KEY": "bench"}),
    "anthropic over https": ("anthropic", {"ANTHROPIC_API_KEY": "bench"}),
    "ollama (the default provider, no key)": ("ollama", {}),
    "openai (gpt-4o, exact token counts)": ("openai", {"OPENAI_API_KEY": "bench"}),
}


def _neutral_dir(env: dict[str, str]) -> Path:
    """The run's temporary folder: ``python -m`` puts the working directory first on sys.path, so it must
    not be a checkout (the tree under test comes from PYTHONPATH)."""
    return Path(env["AIAGENTS_DB"]).parent


ENTRY = ["script"]  # "script": the console script, "module": python -m tui_agents.cli (set by --entry)


def ask_command(provider: str, entry: str, via_python: bool = False) -> list[str]:
    """``aiagents-tui ask --provider PROVIDER "Say hello"``: the console script (run by the interpreter with
    ``via_python``, as valgrind needs) or, with ``entry="module"``, ``python -m tui_agents.cli``."""
    model = ["--model", "gpt-4o"] if provider == "openai" else []
    if entry == "module":
        start = [sys.executable, "-m", "tui_agents.cli"]
    else:
        script = Path(sys.executable).with_name("aiagents-tui")
        if not script.exists():
            raise SystemExit(f"{script} is missing: install the package (pip install -e .) or use --entry module")
        start = [sys.executable, str(script)] if via_python else [str(script)]
    return [*start, "ask", "--provider", provider, *model, "Say hello"]


def _command(provider: str) -> list[str]:
    return ask_command(provider, ENTRY[0])


def _tls_server(tmp: str) -> tuple[FakeLLMServer, str]:
    """A fake serving https with a self-signed certificate, and a CA file: certifi's bundle plus that certificate."""
    import certifi

    if shutil.which("openssl") is None:
        raise SystemExit("the https scenario needs the openssl command")
    cert, key, bundle = f"{tmp}/cert.pem", f"{tmp}/key.pem", f"{tmp}/bundle.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key,
                    "-out", cert, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    Path(bundle).write_text(Path(certifi.where()).read_text() + Path(cert).read_text())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return FakeLLMServer(context).start(), bundle


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """User + sys seconds a running process has used so far (Linux ``/proc``; 10 ms ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read_all(fd: int, stamps: list[float], timeout: float = 30) -> None:
    """Read ``fd`` to its end, stamping when its first byte could be read."""
    while True:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return
        if not stamps:
            stamps.append(time.time())
        try:
            if not os.read(fd, 65536):
                return
        except OSError:  # a pty reports EIO once the child has gone
            return


def run_once(fake: FakeLLMServer, env: dict[str, str], tty: bool, provider: str = "anthropic",
             first_delay: float = FIRST_DELAY) -> dict[str, float]:
    fake.reset()
    fake.script(Reply(text=REPLY, first_delay=first_delay, chunk_chars=6), Reply(text="Greeting"))
    if tty:
        master, slave = pty.openpty()
        spawned = time.time()
        process = subprocess.Popen(_command(provider), stdin=subprocess.DEVNULL, stdout=slave,
                                   stderr=subprocess.DEVNULL, env=env, cwd=_neutral_dir(env))
        os.close(slave)
        out_fd = master
    else:
        spawned = time.time()
        process = subprocess.Popen(_command(provider), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=env, cwd=_neutral_dir(env))
        out_fd = process.stdout.fileno()
    cpu_before = _cpu()
    stamps: list[float] = []
    reader = threading.Thread(target=_read_all, args=(out_fd, stamps), daemon=True)  # stamps the first byte
    reader.start()
    # Read as the request arrives: from then on the process waits for the server (and warms up for the reply).
    chat = _chat_request(fake)
    startup_cpu = _process_cpu(process.pid)
    reader.join(60)
    if not stamps:
        raise RuntimeError("no output")
    first_out = stamps[0]
    process.wait(30)
    ended = time.time()
    cpu = _cpu() - cpu_before
    if tty:
        os.close(master)
    if process.returncode != 0:
        raise RuntimeError(f"ask exited with {process.returncode}")
    return {"startup": chat.received_at - spawned, "first": first_out - chat.first_byte_at, "whole": ended - spawned,
            "cpu": cpu, "startup_cpu": startup_cpu}


def _chat_request(fake: FakeLLMServer, timeout: float = 30) -> Any:
    """The first chat request (Ollama's runs may ask ``/api/show`` first)."""
    deadline = time.monotonic() + timeout
    while not fake.chat_requests():
        if time.monotonic() > deadline:
            raise RuntimeError("no chat request")
        time.sleep(0.001)
    return fake.chat_requests()[0]


def _floor(env: dict[str, str], command: list[str]) -> tuple[float, float]:
    """A floor's command spawn -> exit: (wall, CPU) seconds, for scale against this machine's load now."""
    cpu_before = _cpu()
    started = time.time()
    subprocess.run(command, env=env, check=True)
    return time.time() - started, _cpu() - cpu_before


def _row(case: str, values: list[float], target: float | None) -> str:
    ms = sorted(v * 1000 for v in values)
    p50 = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    verdict = "" if target is None else ("met" if p50 <= target else "MISSED")
    goal = "" if target is None else f"<= {target:.0f}"
    return f"| {case} | {len(ms)} | {p50:.0f} | {p95:.0f} | {goal} | {verdict} |"


def _report(label: str, pipe: list[dict[str, float]], tty: list[dict[str, float]],
            at_once: list[dict[str, float]]) -> None:
    print(_row(f"{label}: startup, pipe (spawn -> request at server)", [r["startup"] for r in pipe], 300))
    print(_row(f"{label}: startup, pipe: CPU time of the process until the request",
               [r["startup_cpu"] for r in pipe], 300))
    print(_row(f"{label}: first token, pipe (server's first byte -> stdout)", [r["first"] for r in pipe], 150))
    if tty:
        print(_row(f"{label}: startup, tty", [r["startup"] for r in tty], 300))
        print(_row(f"{label}: first token, tty (rendered Markdown)", [r["first"] for r in tty], 150))
        print(_row(f"{label}: first token, tty, the server answering at once", [r["first"] for r in at_once], 150))
    print(_row(f"{label}: whole run, pipe (incl. title request)", [r["whole"] for r in pipe], None))
    print(_row(f"{label}: whole run, pipe: CPU time of the process (user + sys)", [r["cpu"] for r in pipe], None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", metavar="DIR", help="another tree's tui_agents to run interleaved, as 'before'")
    parser.add_argument("--scenario", choices=list(SCENARIOS), action="append",
                        help="only these scenarios (default: all)")
    parser.add_argument("--entry", choices=("script", "module"), default="script",
                        help="start ask as the console script (default) or with python -m tui_agents.cli")
    args = parser.parse_args()
    ENTRY[0] = args.entry
    trees = {"after": ROOT, "before": Path(args.baseline).resolve()} if args.baseline else {"": ROOT}
    scenarios = {name: SCENARIOS[name] for name in (args.scenario or SCENARIOS)}
    cases = [(tree, name) for name in scenarios for tree in trees]
    floors = {"bare `python -c pass`": [sys.executable, "-c", "pass"],
              'bare `python -c "import httpx"`': [sys.executable, "-c", "import httpx"]}
    pipe: dict[tuple[str, str], list[dict[str, float]]] = {case: [] for case in cases}
    tty: dict[tuple[str, str], list[dict[str, float]]] = {case: [] for case in cases}
    at_once: dict[tuple[str, str], list[dict[str, float]]] = {case: [] for case in cases}
    floor: dict[str, list[tuple[float, float]]] = {label: [] for label in floors}
    loads = [os.getloadavg()[0]]
    fake = FakeLLMServer().start()
    tls_fake: FakeLLMServer | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = _env(fake, tmp)
            envs = {(tree, name): {**base, "PYTHONPATH": str(trees[tree]), **scenarios[name][1]}
                    for tree, name in cases}
            fakes = {name: fake for name in scenarios}
            if "anthropic over https" in scenarios:
                tls_fake, bundle = _tls_server(tmp)
                fakes["anthropic over https"] = tls_fake
                for (tree, name), env in envs.items():
                    if name == "anthropic over https":
                        env.update(ANTHROPIC_BASE_URL=tls_fake.base_url, SSL_CERT_FILE=bundle)
            from profile_ask import library_floor_command  # this script's folder is on sys.path when it is run

            Path(tmp, "floor").mkdir()
            floors[LIBRARY_FLOOR] = library_floor_command(str(ROOT), fake.base_url, f"{tmp}/floor")
            floor[LIBRARY_FLOOR] = []
            for (tree, name), env in envs.items():  # warm the file cache, write byte code, create the database
                run_once(fakes[name], env, tty=False, provider=scenarios[name][0])
            for round_ in range(args.runs):  # round by round, so every case sees the same load
                for label, command in floors.items():
                    floor[label].append(_floor(base, command))
                # the trees take turns going first in each scenario, so neither always follows the floors
                for (tree, name), env in _in_turn(list(envs.items()), flip=round_ % 2 == 1):
                    provider = scenarios[name][0]
                    pipe[tree, name].append(run_once(fakes[name], env, tty=False, provider=provider))
                    if name == "anthropic":
                        tty[tree, name].append(run_once(fake, env, tty=True, provider=provider))
                        at_once[tree, name].append(run_once(fake, env, tty=True, provider=provider, first_delay=0))
                loads.append(os.getloadavg()[0])
    finally:
        fake.stop()
        if tls_fake is not None:
            tls_fake.stop()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {min(loads):.2f}-{max(loads):.2f} "
          f"(1-min avg over the run); {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; {args.runs} rounds; "
          f"started as {'the console script' if args.entry == 'script' else 'python -m tui_agents.cli'}")
    print("| case | n | p50 ms | p95 ms | target | |")
    print("|---|---|---|---|---|---|")
    for tree, name in cases:
        _report(f"{tree + ', ' if tree else ''}{name}", pipe[tree, name], tty[tree, name], at_once[tree, name])
    for label, values in floor.items():
        print(_row(f"floor: {label} (spawn -> exit)", [v[0] for v in values], None))
        print(_row(f"floor: {label}, CPU time", [v[1] for v in values], None))
    if args.baseline:
        print()
        for name in scenarios:
            for key, what in (("startup", "startup wall"), ("startup_cpu", "startup CPU")):
                after = statistics.median(r[key] for r in pipe["after", name])
                before = statistics.median(r[key] for r in pipe["before", name])
                print(f"{name}: {what} after / before (medians, pipe): {after / before:.2f}")
            diffs = [(a["startup"] - b["startup"]) * 1000 for a, b in zip(pipe["after", name], pipe["before", name])]
            print(f"{name}: startup wall after - before, paired by round (pipe): median "
                  f"{statistics.median(diffs):+.0f} ms, after lower in {sum(d < 0 for d in diffs)} of {len(diffs)} rounds")


def _in_turn(cases: list[tuple[tuple[str, str], Any]], flip: bool) -> list[tuple[tuple[str, str], Any]]:
    """``cases`` in order, or with the trees of each scenario in reverse order (``flip``)."""
    if not flip:
        return cases
    by_scenario: dict[str, list[tuple[tuple[str, str], Any]]] = {}
    for case in cases:
        by_scenario.setdefault(case[0][1], []).append(case)
    return [case for group in by_scenario.values() for case in reversed(group)]


if __name__ == "__main__":
    main()
