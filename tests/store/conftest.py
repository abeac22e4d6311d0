"""Store fixtures: a real SQLite file in tmp_path per test."""

from __future__ import annotations

import pytest

from tui_agents.store import AgentStore, Auth, DocumentStore, MessageStore, ThreadStore, UserMemoryStore, connect


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "store.db"


@pytest.fixture
async def conn(db_path):
    c = await connect(db_path)
    yield c
    await c.close()


@pytest.fixture
def agents(conn):
    return AgentStore(conn)


@pytest.fixture
def threads(conn):
    return ThreadStore(conn)


@pytest.fixture
def messages(conn):
    return MessageStore(conn)


@pytest.fixture
def memory(conn):
    return UserMemoryStore(conn)


@pytest.fixture
def documents(conn):
    return DocumentStore(conn)


@pytest.fixture
def auth(conn):
    return Auth(conn)


@pytest.fixture
async def agent(agents):
    return await agents.create(name="assistant", system_prompt="You are helpful.")


@pytest.fixture
async def thread(threads, agent):
    return await threads.create(agent_id=agent["id"], user_id="u1")
