"""Loading what a turn needs while the user types: the job queue, the engine's modules, the tokenizer, the runner."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .app import AiAgentsApp

__all__ = ["warm_up"]

log = logging.getLogger(__name__)

WINDOW_TIMEOUT = 2.0  # a slow local server must not hold up the first turn (it waits for the warm-up)

# What the first turn imports otherwise (measured with benchmarks/profile_stream.py --verbose): ~0.1 s
# of CPU between Enter and the request.
_ENGINE_MODULES = ("tui_agents.runner", "tui_agents.providers", "tui_agents.providers.ollama", "tui_agents.memory",
                   "tui_agents.memory.tokens", "rich.markdown", "tui_agents.store.auth", "tui_agents.tools",
                   "tui_agents.tools.builtin", "pydantic.type_adapter", "anyio._backends._asyncio",
                   "tui_agents.tui.widgets.rich_markdown")


async def warm_up(app: AiAgentsApp) -> None:
    """Start the job queue; import the engine, load the tokenizer and build the runner (in threads)."""
    await app.wait_ready()
    session = app.session
    assert session is not None
    imported = asyncio.ensure_future(asyncio.to_thread(_import_engine))  # while the job queue starts
    if app.background_jobs and session.job_queue is None:
        try:
            await session.start_jobs()
        except Exception:  # chat works without titles and memory jobs
            log.warning("The background job queue did not start.", exc_info=True)
        else:
            app.run_worker(partial(_watch_jobs, app), name="jobs", exit_on_error=False)
    await imported
    from ..providers import registry

    spec = registry.find(app.provider_name)
    model = app.model_name or (spec.default_model if spec is not None else "")
    try:
        from ..memory.tokens import TokenCounter

        # only a model whose own tokenizer is tiktoken loads it (shared: the runner's counter finds it loaded)
        await TokenCounter.for_model(app.provider_name, model).load()
    except Exception:  # counting falls back to estimates
        log.warning("The tokenizer did not load; token counts are estimates.", exc_info=True)
    if app.provider_ok:
        try:
            # in a thread: its HTTP client builds SSL contexts (~100 ms) the UI should not wait for
            runner = await asyncio.to_thread(session.runner, app.provider_name)
            # the model's window (a local server: /api/show, cached) also opens the HTTP connection
            await asyncio.wait_for(runner.provider.get_context_window(model or None), WINDOW_TIMEOUT)
        except Exception:  # the turn reports it to the user
            log.warning("Could not build the %s runner ahead of a turn.", app.provider_name, exc_info=True)
        else:
            # the runner registered the job handlers: title the threads a quit or a stall left untitled
            app.run_worker(session.title_untitled, name="title-untitled", exit_on_error=False)
    # not needed to start a turn: a turn does not wait for it
    app.run_worker(asyncio.to_thread(_warm_lexers), name="warm-lexers", exit_on_error=False)
    # a thread opened before the engine was warm was not counted: count it once this task is done
    asyncio.get_running_loop().call_soon(_count_open_thread, app)
    from .db_watch import DatabaseWatch

    await DatabaseWatch(app).start()  # threads that `ask` or another app saves appear in the sidebar


def _count_open_thread(app: AiAgentsApp) -> None:
    """Show the open thread's context in the status bar (the warm-up has just ended)."""
    thread_id, session = app.current_thread_id, app.session
    if thread_id is None or session is None:
        return
    turn = app.turns.get(thread_id)
    if turn is not None and turn.running:
        return  # its end counts it: mid-reply, the count would depend on how much of the reply was saved

    async def count() -> None:
        thread = await session.threads.get(thread_id)
        if app.current_thread_id == thread_id:
            app.screen_main.turns.show_context_of(thread)

    app.run_worker(count, group="ctx-open", exit_on_error=False)  # created when it runs: never left unawaited


def _import_engine() -> None:
    import importlib

    for name in _ENGINE_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the turn imports it again and reports a failure
            log.warning("Could not preload %s.", name, exc_info=True)


def _warm_lexers() -> None:
    """Compile the common code lexers: Pygments does it on first use (Python: ~40 ms), mid-stream otherwise."""
    try:
        from pygments.lexers import get_lexer_by_name

        for language in ("python", "bash", "javascript", "json"):
            get_lexer_by_name(language)
    except Exception:  # highlighting still works, just later
        log.warning("Could not preload the code lexers.", exc_info=True)


async def _watch_jobs(app: AiAgentsApp) -> None:
    """Show the running background jobs in the status bar; a new title refreshes the sidebar."""
    from ..limits.job_queue import JobStatus
    from ..workers import TITLE_JOB

    queue = app.session.job_queue if app.session else None
    if queue is None:
        return
    async for job in queue.watch():
        app.status_bar.jobs = queue.running_count
        if job.status == JobStatus.COMPLETED and job.name == TITLE_JOB:
            await app.screen_main.threads.reload_threads()
