"""``aiagents-tui ask``: one question from the shell, the reply streamed to stdout.

    aiagents-tui ask "What is a monad?"
    git diff | aiagents-tui ask "review this"
    aiagents-tui ask --continue "and in Rust?"

Only the reply's text goes to stdout (Markdown rendered on a terminal, plain
text into a pipe); notes, tool activity and errors go to stderr. The exchange is
saved in the app's database (a new thread, titled as usual, or the one
continued) unless ``--no-save``. Any failure is one plain line on stderr and
exit status 1. This module never imports Textual, and imports the rest lazily
so the first request leaves quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any, TextIO

from .default_agent import DEFAULT_AGENT_NAME, DEFAULT_AGENT_TOOLS, DEFAULT_SYSTEM_PROMPT
from .providers import registry

__all__ = ["add_parser", "run"]

TITLE_WAIT = 5.0
"""Seconds a new thread's title may take once the reply is out; past them the app titles it at its next start."""


class AskError(Exception):
    """A failure to report as one line on stderr."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``ask`` subcommand on the CLI's subparsers."""
    ask = sub.add_parser("ask", help="ask one question; the reply streams to stdout")
    # SUPPRESS: without the flag, the top-level --provider/--model/--db (if given) stay in effect.
    ask.add_argument("--provider", choices=registry.names(), default=argparse.SUPPRESS, help="provider to ask")
    ask.add_argument("--model", metavar="M", default=argparse.SUPPRESS, help="model to ask")
    ask.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                     help="SQLite database (default: $AIAGENTS_DB, else the app's)")
    ask.add_argument("--agent", metavar="NAME", help="agent whose prompt, model and tools to use")
    where = ask.add_mutually_exclusive_group()
    where.add_argument("--continue", dest="continue_", action="store_true", help="continue the most recent thread")
    where.add_argument("--thread", metavar="ID", help="continue this thread")
    ask.add_argument("--no-save", action="store_true", help="do not save the exchange")
    ask.add_argument("prompt", nargs="?", default="", help="the question (piped stdin is added as context)")
    # cli.main leaves the garbage collector off: the run turns it on once its request is out.
    ask.set_defaults(func=run, restart_gc=True)
    return ask


def _warm_token_counter(provider: str, model: str | None) -> None:
    """Load the model's token encoding while the rest imports: the runner counts a continued thread's
    messages before sending them (a new thread's first message only after the reply).

    Only OpenAI's models have one; every other model is estimated and loads nothing.
    """
    try:
        from .memory.tokens import _get_encoding, encoding_for

        encoding = encoding_for(provider, model)
        if encoding is not None:
            _get_encoding(encoding)
    except Exception:  # noqa: BLE001 - the runner loads (or estimates) it itself
        pass


async def run(args: argparse.Namespace) -> int:
    """Run ``ask``; returns the exit status."""
    session = _Ask(args, sys.stdin, sys.stdout, sys.stderr)
    _cancel_on_signals()
    try:
        return await session.run()
    except asyncio.CancelledError:
        # ctrl+c or SIGTERM: the runner has saved the partial reply as interrupted; tool servers stop below.
        if session.answered:
            return 0  # only the title was still on its way: the reply is complete and saved
        if args.no_save:
            _error("interrupted.")
        elif session.received:
            _error("interrupted; the partial reply is saved.")
        else:
            _error("interrupted before the reply began; your question is saved.")
        return 130
    except AskError as exc:
        _error(str(exc))
    except Exception as exc:  # noqa: BLE001 - the CLI contract: one plain line, never a traceback
        from .errors import AgentError

        _error(str(exc) if isinstance(exc, AgentError) else f"{type(exc).__name__}: {exc}")
    finally:
        await session.close()
    return 1


def _after_request_sent(provider: Any, work: Callable[[], None], *, restart_gc: bool = False) -> None:
    """Run ``work`` on a daemon thread once the chat request's body has gone out.

    From then on the process only waits for the server, so what the thread loads costs neither the
    start-up nor (unless the server answers at once) the first token. The provider reports the moment
    (``HTTPProvider.on_request_sent``); a provider that cannot gets the thread at once. ``restart_gc``:
    turn the garbage collector on at that moment (``cli.main`` turned it off for the start-up), sparing
    the start-up's objects from its scans.
    """
    import threading

    fired = threading.Event()

    def fire() -> None:
        if not fired.is_set():
            fired.set()
            if restart_gc:
                import gc

                gc.freeze()  # what start-up made (modules, classes) lives as long as the process
                gc.enable()
            threading.Thread(target=work, name="ask-warmup", daemon=True).start()

    on_request_sent = getattr(provider, "on_request_sent", None)
    if on_request_sent is None:
        fire()
    else:
        on_request_sent(fire)


def _warm_for_reply(rendered: bool) -> None:
    """Make what the reply's first fragment needs: the log file, the writer token of the streaming row, the event
    classes (made at first use), and rich on a terminal."""
    try:
        from . import events
        from .logs import setup_logging
        from .providers import base
        from .store.process import current_writer

        setup_logging()  # warnings go to the app's log file, not as bare lines among ask's notes
        current_writer()
        base.TextDeltaEvent, events.TextDelta  # noqa: B018 - makes each module's classes, as a reply needs them
        if rendered:
            import rich.console
            import rich.live
            import rich.markdown  # noqa: F401
    except Exception:  # noqa: BLE001 - the first fragment loads them itself
        pass


def _cancel_on_signals() -> None:
    """Turn ctrl+c and SIGTERM into a cancellation of this run, so everything it started is stopped."""
    import signal

    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(number, task.cancel)  # type: ignore[union-attr]
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            pass


def _error(message: str) -> None:
    sys.stderr.write(f"aiagents-tui: {message.splitlines()[0] if message else 'failed'}\n")
    sys.stderr.flush()


def _prompt_text(prompt: str, stdin: TextIO) -> str:
    """The question, with piped stdin appended as context."""
    context = "" if stdin is None or stdin.isatty() else stdin.read()
    prompt, context = prompt.strip(), context.strip("\n")
    if not prompt and not context.strip():
        raise AskError('ask needs a question, e.g. aiagents-tui ask "What is a monad?"')
    if not context.strip():
        return prompt
    return f"{prompt}\n\n{context}" if prompt else context


class _Ask:
    """One ``ask`` run: its database, provider, runner and output."""

    def __init__(self, args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> None:
        self.args = args
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.conn: Any = None
        self._source: Any = None  # the app's database opened for reading under --no-save
        self.provider: Any = None
        self.runner: Any = None
        self.received = False
        """Whether any of the reply has arrived."""
        self.answered = False
        """Whether the reply is complete (what follows is the new thread's title)."""
        self._out: Any = None  # the reply's output while the turn runs
        self._waiting: Any = None  # the "waiting for MODEL" line on a terminal until the reply starts

    async def run(self) -> int:
        from .config import load_config

        text = _prompt_text(self.args.prompt, self.stdin)
        config = load_config()
        early = self._early_provider(config)
        self.conn = await self._open_db()
        agent = await self._agent_record()
        thread = await self._thread(config)
        provider_name, model = self._choose_model(config, agent, thread)
        if isinstance(early, Exception):
            raise early  # after the database's own errors, as when the provider was made here
        self.provider = early or self._make_provider(config, provider_name, model)
        if thread is not None:  # a new thread's first message is counted after the request (the runner)
            import threading

            threading.Thread(target=_warm_token_counter, args=(provider_name, self.provider.model),
                             name="ask-token-warmup", daemon=True).start()
        if not self.provider.has_key:
            from .secrets import env_var_for

            raise AskError(f"No {provider_name} API key was found: set {env_var_for(provider_name)} "
                           f"or run `aiagents-tui keys set {provider_name}`.")
        thread_id, record = await self._ensure_thread(thread, agent, config, provider_name, model)
        self.runner = self._make_runner(config, record)
        _after_request_sent(self.provider, lambda: _warm_for_reply(self.stdout.isatty()),
                            restart_gc=getattr(self.args, "restart_gc", False))
        ok = await self._stream(thread_id, config.user_id, text)
        self.answered = ok
        if ok and thread is None and not self.args.no_save:
            await self._title(thread_id)
        return 0 if ok else 1

    # ---- database, agent and thread

    async def _open_db(self) -> Any:
        from .store import connect

        if self.args.no_save:
            return await connect(":memory:")
        return await connect(self.args.db_path)

    async def _agent_record(self) -> dict[str, Any] | None:
        """The ``--agent`` record (from the app's database even with ``--no-save``), else None."""
        if not self.args.agent:
            return None
        from .store import AgentStore

        agents = AgentStore(await self._source_conn())
        record = await agents.get_by_name(self.args.agent)
        if record is None:
            known = await agents.list()
            same = [a for a in known if a["name"].casefold() == self.args.agent.casefold()]
            if len(same) == 1:
                return same[0]
            names = ", ".join(sorted(a["name"] for a in known)) or "none yet"
            raise AskError(f"There is no agent named {self.args.agent!r}; the agents are: {names}.")
        return record

    async def _source_conn(self) -> Any:
        """The app's database, for reading: the run's own one unless ``--no-save`` opened a private one."""
        if not self.args.no_save:
            return self.conn
        if self._source is None:
            from .store import connect

            self._source = await connect(self.args.db_path)
        return self._source

    async def _thread(self, config: Any) -> dict[str, Any] | None:
        """The thread to continue (``--continue``/``--thread``), or None for a new one."""
        if not (self.args.continue_ or self.args.thread):
            return None
        from .errors import NotFoundError
        from .store import ThreadStore

        threads = ThreadStore(await self._source_conn())
        if self.args.thread:
            try:
                return await threads.get(self.args.thread)
            except NotFoundError:
                raise AskError(f"There is no thread {self.args.thread}; `aiagents-tui ask --continue` "
                               "continues the latest one.") from None
        latest = await threads.list(user_id=config.user_id, limit=1)
        if not latest:
            raise AskError("There is no thread to continue yet; ask without --continue to start one.")
        return latest[0]

    def _choose_model(self, config: Any, agent: dict[str, Any] | None,
                      thread: dict[str, Any] | None) -> tuple[str, str | None]:
        """Provider and model: the flags, else the thread's, else the agent's, else the config's defaults."""
        provider = getattr(self.args, "provider", None)
        model = getattr(self.args, "model", None)
        for source in (thread, agent):
            if provider is None and source and source.get("provider"):
                provider = source["provider"]
                model = model or source.get("model")
        provider = provider or config.default_provider
        if model is None:
            model = config.providers.get(provider).default_model
            if model is None and provider == config.default_provider:
                model = config.default_model
        return provider, model

    def _early_provider(self, config: Any) -> Any:
        """The provider, made before the database opens when the flags alone choose it (no ``--agent``,
        ``--continue`` or ``--thread``): an https provider's TLS context then loads on its thread meanwhile.
        None otherwise; an error is returned, to be raised where it was before."""
        if self.args.agent or self.args.continue_ or self.args.thread:
            return None
        try:
            self.provider = self._make_provider(config, *self._choose_model(config, None, None))
        except Exception as exc:  # noqa: BLE001 - raised by run() once the database has had its say
            return exc
        return self.provider

    @staticmethod
    def _make_provider(config: Any, name: str, model: str | None) -> Any:
        from .providers import ProviderTimeouts, get_provider

        net = config.network  # the same waits as the app's
        options: dict[str, Any] = {"timeout": ProviderTimeouts(net.connect_timeout, net.first_byte_timeout,
                                                               net.read_timeout)}
        base_url = config.providers.get(name).base_url
        if base_url:
            options["base_url"] = base_url
        return get_provider(name, model=model, **options)

    async def _ensure_thread(self, thread: dict[str, Any] | None, agent: dict[str, Any] | None, config: Any,
                             provider: str, model: str | None) -> tuple[str, dict[str, Any] | None]:
        """The thread to write to (the continued one, its private copy under ``--no-save``, or a new one)
        and the agent record its turns use."""
        from .errors import NotFoundError
        from .store import AgentStore, ThreadStore

        if thread is not None and not self.args.no_save:
            if getattr(self.args, "provider", None) or getattr(self.args, "model", None):
                await ThreadStore(self.conn).set_model(thread["id"], provider, model or self.provider.model)
            try:
                record = await AgentStore(self.conn).get(thread["agent_id"]) if thread.get("agent_id") else None
            except NotFoundError:
                record = None
            return thread["id"], record
        agents = AgentStore(self.conn)
        name = agent["name"] if agent else DEFAULT_AGENT_NAME
        record = await agents.get_by_name(name)
        if record is None:
            fields = {k: agent[k] for k in ("system_prompt", "provider", "model", "tools")} if agent else {}
            fields.setdefault("system_prompt", DEFAULT_SYSTEM_PROMPT)
            fields.setdefault("tools", list(DEFAULT_AGENT_TOOLS))  # as the app makes its own
            record = await agents.create(name, **fields)
        threads = ThreadStore(self.conn)
        created = await threads.create(record["id"], user_id=config.user_id, provider=provider,
                                       model=model or self.provider.model)
        if thread is not None:  # --no-save: the history goes into the private copy
            await self._copy_history(thread["id"], created["id"])
        return created["id"], record

    async def _copy_history(self, source_id: str, target_id: str) -> None:
        from .store import MessageStore

        source, target = MessageStore(await self._source_conn()), MessageStore(self.conn)
        for record in await source.list(source_id):
            await target.add(target_id, record["role"], record["content"], tool_calls=record["tool_calls"] or None,
                             tool_call_id=record["tool_call_id"], status=record["status"], model=record["model"],
                             meta=record["meta"])

    # ---- the turn

    def _make_runner(self, config: Any, record: dict[str, Any] | None) -> Any:
        """A runner with the agent record's tools, the configured MCP servers and the config's approvals."""
        from .approvals import ToolApprovals
        from .memory import get_memory_strategy
        from .runner import AgentRunner

        memory = get_memory_strategy(config.memory.strategy, **config.memory.params)
        tools: list[Any] = []
        if (record or {}).get("tools"):  # the tool registry loads only for an agent that has tools
            from .tools import default_registry

            # As the runner does for a record: a tool no longer registered is left out, not an error.
            tools = [name for name in record["tools"] if name in default_registry]  # type: ignore[index]
        tools += self._mcp_servers(config)
        ask = self._ask_on_terminal if self.stdin.isatty() and self.stderr.isatty() else None
        approvals = ToolApprovals.from_config(config, ask=ask)
        thinking = config.thinking.get(self.provider.model or "")  # [thinking."MODEL"], as in the app
        return AgentRunner(self.conn, None, self.provider, memory, tools=tools or None, approve=approvals,
                           thinking=thinking.value() if thinking is not None else None,
                           stall_after=config.network.stall_after)

    def _mcp_servers(self, config: Any) -> list[Any]:
        if not any(entry.enabled for entry in config.mcp_servers.values()):
            return []
        try:
            from .mcp import servers_from_config
        except ImportError as exc:
            self._note(f"MCP servers are configured but not available: {exc}")
            return []
        return servers_from_config(config)

    async def _ask_on_terminal(self, name: str, server: str | None, arguments: dict[str, Any]) -> str:
        import json

        if self._waiting is not None:
            self._waiting.stop()
        if self._out is not None:
            self._out.boundary()  # the question on a line of its own, never drawn over by the live reply
        where = f" of MCP server {server}" if server else ""
        self._note(f"The model wants to run {name}{where} with {json.dumps(arguments, ensure_ascii=False)}")
        answer = (await _read_line(self.stderr, "Allow it? [y]es once, [a]lways, [N]o: ")).strip().lower()
        return "always" if answer.startswith("a") else "once" if answer.startswith("y") else "deny"

    async def _stream(self, thread_id: str, user_id: str, text: str) -> bool:
        """Run the turn, writing reply text to stdout and everything else to stderr; False if it failed."""
        from contextlib import aclosing

        from . import events as turn_events
        from .ask_output import ReplyOutput, WaitingLine
        from .events import MessageSaved

        out = self._out = ReplyOutput(self.stdout)
        waiting = self._waiting = WaitingLine(self.stderr, self.provider.model)
        if hasattr(self.provider, "on_retry"):
            self.provider.on_retry(self._retrying)
        declined: set[str] = set()
        try:
            async with aclosing(self.runner.run_stream(thread_id, user_id, text)) as events:
                async for event in events:
                    if isinstance(event, MessageSaved):
                        # the one event before the request: the others' classes are made at first use, after it
                        waiting.start()
                        continue
                    if isinstance(event, turn_events.ThinkingDelta):
                        waiting.thinking()
                        continue
                    if isinstance(event, (turn_events.TextDelta, turn_events.ToolCallStarted, turn_events.TurnFailed,
                                          turn_events.TurnFinished)):
                        waiting.stop()  # the answer has begun (or ended)
                    if isinstance(event, turn_events.TextDelta):
                        self.received = self.received or bool(event.text)
                        out.write(event.text)
                    elif isinstance(event, turn_events.ToolCallStarted) and event.call_id not in declined:
                        self.received = True
                        out.boundary()
                        self._note(f"running {event.name}")
                    elif isinstance(event, turn_events.ToolCallFinished) and event.call_id not in declined:
                        self._note(f"{event.name}: {event.status} ({event.duration_ms:,.0f} ms)")
                    elif isinstance(event, turn_events.ToolApproval) and not event.approved:
                        declined.add(event.call_id)
                        out.boundary()
                        self._note(f"{event.name} was refused: allow it in the config's [tools] always_allow "
                                   f"(\"{event.server + ':' if event.server else ''}{event.name}\") "
                                   "or run ask on a terminal to be asked")
                    elif isinstance(event, turn_events.ToolServerFailed):
                        reason = getattr(event.error, "reason", None) or str(event.error)
                        self._note(f"{reason.rstrip('.')}. Its tools are left out.")
                    elif isinstance(event, turn_events.StreamStalled):
                        out.pause()
                        self._note(f"no data from the server for {event.seconds:.0f} s; still waiting "
                                   "(ctrl+c stops)")
                    elif isinstance(event, turn_events.RateLimitWait):
                        self._note(f"waiting {event.seconds:.1f} s for the rate limit")
                    elif isinstance(event, turn_events.TurnFailed):
                        out.finish()
                        _error(str(event.error))
                        return False
        finally:
            waiting.stop()
            out.finish()
            self._out = self._waiting = None
        if not out.wrote:
            self._note("the model's reply was empty")
        return True

    def _retrying(self, seconds: float, error: Exception) -> None:
        """The provider waits to try its request again: say so when the wait is one a person notices (a rate
        limit's ``retry-after``, a long back-off); a quick retry that fails ends in the one error line."""
        if seconds < 3 and getattr(error, "retry_after", None) is None:
            return
        reason = (str(error).splitlines() or ["the server refused"])[0].rstrip(".")
        self._note(f"{reason}; trying again in {seconds:.0f} s (ctrl+c stops)")  # below it, the waiting line goes on

    async def _title(self, thread_id: str) -> None:
        """Title the new thread as the app does; a failure leaves it untitled (the app titles it later)."""
        from .workers import generate_title

        try:
            await asyncio.wait_for(generate_title(self.provider, self.conn, thread_id), TITLE_WAIT)
        except Exception:  # noqa: BLE001 - the reply is out and saved; a title is a nicety (the app titles it)
            pass

    def _note(self, message: str) -> None:
        if self._waiting is not None:
            self._waiting.clear()  # the note takes its line; the waiting line comes back below it
        self.stderr.write(f"· {message}\n")
        self.stderr.flush()

    async def close(self) -> None:
        """Stop tool servers, close the provider and the databases."""
        for closer in (getattr(self.runner, "aclose", None), getattr(self.provider, "aclose", None)):
            if closer is not None:
                try:
                    await closer()
                except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
                    pass
        for conn in (self.conn, self._source):
            if conn is not None:
                await conn.close()


async def _read_line(stderr: TextIO, prompt: str) -> str:
    """A line from stdin, read on a daemon thread: ctrl+c while waiting must not hang the exit on it."""
    import threading

    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = sys.stdin.readline()
        except (OSError, ValueError):
            line = ""
        loop.call_soon_threadsafe(lambda: answer.done() or answer.set_result(line))

    stderr.write(prompt)
    stderr.flush()
    threading.Thread(target=read, name="ask-approval", daemon=True).start()
    return await answer
