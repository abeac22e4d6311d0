"""AgentStore: named agents (system prompt, definition, provider, model, tools, memory strategy)."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.store.db import run, write
from tui_agents.store.ids import new_id
from tui_agents.store.records import AgentRecord, dumps, fetch_all, fetch_one, loads, now

__all__ = ["AgentStore"]

_FIELDS = ("name", "system_prompt", "definition", "provider", "model", "tools", "memory_strategy", "memory_params")
_JSON_FIELDS = {"definition", "tools", "memory_params"}


def _plain(value: Any) -> Any:
    """A pydantic model (e.g. an AgentDefinition) or dataclass as plain JSON-able data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def _column(field: str, value: Any) -> Any:
    if field == "tools":
        return dumps([getattr(t, "name", t) for t in (value or [])])
    if field == "memory_params":
        return dumps(dict(value or {}))
    if field == "definition":
        return dumps(_plain(value))
    if field == "name" and (not isinstance(value, str) or not value.strip()):
        raise InvalidArgumentError("An agent needs a non-empty name.")
    if field == "system_prompt":
        return value or ""
    return value


def _record(row: sqlite3.Row) -> AgentRecord:
    return AgentRecord(
        id=row["id"], name=row["name"], system_prompt=row["system_prompt"],
        definition=loads(row["definition"]), provider=row["provider"], model=row["model"],
        tools=loads(row["tools"]) or [], memory_strategy=row["memory_strategy"],
        memory_params=loads(row["memory_params"]) or {}, created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _get(db: sqlite3.Connection, agent_id: str) -> AgentRecord:
    row = fetch_one(db, "SELECT * FROM agents WHERE id = ?", (agent_id,))
    if row is None:
        raise NotFoundError(f"Agent {agent_id} does not exist.")
    return _record(row)


def _check_name_free(db: sqlite3.Connection, name: str, agent_id: str | None) -> None:
    row = fetch_one(db, "SELECT id FROM agents WHERE name = ?", (name,))
    if row is not None and row["id"] != agent_id:
        raise InvalidArgumentError(f"An agent named {name!r} already exists; pick another name.")


class AgentStore:
    """Create, read, update and delete agents."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def create(self, name: str, system_prompt: str = "", definition: Any = None,
                     provider: str | None = None, model: str | None = None, tools: list[Any] | None = None,
                     memory_strategy: str | None = None, memory_params: dict[str, Any] | None = None) -> AgentRecord:
        """Create an agent; names are unique."""
        values = {"name": name, "system_prompt": system_prompt, "definition": definition, "provider": provider,
                  "model": model, "tools": tools, "memory_strategy": memory_strategy, "memory_params": memory_params}
        cols = {f: _column(f, v) for f, v in values.items()}
        agent_id, ts = new_id("agt"), now()

        def insert(db: sqlite3.Connection) -> AgentRecord:
            _check_name_free(db, name, None)
            db.execute(
                f"INSERT INTO agents(id, {', '.join(_FIELDS)}, created_at, updated_at) "
                f"VALUES (?, {', '.join('?' * len(_FIELDS))}, ?, ?)",
                (agent_id, *(cols[f] for f in _FIELDS), ts, ts))
            return _get(db, agent_id)

        return await write(self.conn, insert)

    async def get(self, id: str) -> AgentRecord:
        """The agent with this id (NotFoundError otherwise)."""
        return await run(self.conn, _get, id)

    async def get_by_name(self, name: str) -> AgentRecord | None:
        """The agent with this name, or None."""

        def select(db: sqlite3.Connection) -> AgentRecord | None:
            row = fetch_one(db, "SELECT * FROM agents WHERE name = ?", (name,))
            return None if row is None else _record(row)

        return await run(self.conn, select)

    async def list(self) -> list[AgentRecord]:
        """Every agent, by name."""
        rows = await run(self.conn, fetch_all, "SELECT * FROM agents ORDER BY name COLLATE NOCASE, id")
        return [_record(r) for r in rows]

    async def update(self, id: str, **fields: Any) -> AgentRecord:
        """Change some of: name, system_prompt, definition, provider, model, tools, memory_strategy, memory_params."""
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise InvalidArgumentError(f"Agents have no field {unknown[0]!r}; use one of {', '.join(_FIELDS)}.")
        cols = {f: _column(f, v) for f, v in fields.items()}

        def change(db: sqlite3.Connection) -> AgentRecord:
            _get(db, id)
            if not cols:
                return _get(db, id)
            if "name" in cols:
                _check_name_free(db, cols["name"], id)
            sets = ", ".join(f"{f} = ?" for f in cols)
            db.execute(f"UPDATE agents SET {sets}, updated_at = ? WHERE id = ?", (*cols.values(), now(), id))
            return _get(db, id)

        return await write(self.conn, change)

    async def delete(self, id: str) -> None:
        """Delete an agent that no thread uses (InvalidArgumentError otherwise: threads keep their agent)."""

        def remove(db: sqlite3.Connection) -> None:
            _get(db, id)
            used = db.execute("SELECT count(*) FROM threads WHERE agent_id = ?", (id,)).fetchone()[0]
            if used:
                raise InvalidArgumentError(
                    f"Agent {id} is used by {used} thread(s); delete those threads first.")
            db.execute("DELETE FROM agents WHERE id = ?", (id,))

        await write(self.conn, remove)
