"""AgentStore CRUD."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tui_agents.errors import InvalidArgumentError, NotFoundError


async def test_create_get_list_update_delete(agents):
    created = await agents.create(name="coder", system_prompt="Write code.", provider="ollama", model="llama3",
                                  tools=["search_documents"], memory_strategy="last_n", memory_params={"n": 5},
                                  definition={"role": "dev"})
    assert created["id"].startswith("agt_")
    assert (await agents.get(created["id"])) == created
    assert (await agents.get_by_name("coder"))["id"] == created["id"]
    assert await agents.get_by_name("nobody") is None
    updated = await agents.update(created["id"], model="llama3.1", tools=["remember"])
    assert updated["model"] == "llama3.1" and updated["tools"] == ["remember"]
    assert updated["memory_params"] == {"n": 5} and updated["definition"] == {"role": "dev"}
    assert updated["updated_at"] >= created["updated_at"]
    await agents.create(name="Alpha", system_prompt="")
    assert [a["name"] for a in await agents.list()] == ["Alpha", "coder"]
    await agents.delete(created["id"])
    with pytest.raises(NotFoundError):
        await agents.get(created["id"])


async def test_definition_model_is_stored_as_plain_data(agents):
    class Definition(BaseModel):
        role: str
        rules: list[str]

    agent = await agents.create(name="x", system_prompt="", definition=Definition(role="r", rules=["a"]))
    assert agent["definition"] == {"role": "r", "rules": ["a"]}
    assert agent["tools"] == [] and agent["memory_params"] == {}


async def test_duplicate_name_unknown_field_and_used_agent_are_refused(agents, threads):
    agent = await agents.create(name="dup", system_prompt="")
    with pytest.raises(InvalidArgumentError, match="already exists"):
        await agents.create(name="dup", system_prompt="")
    with pytest.raises(InvalidArgumentError, match="no field"):
        await agents.update(agent["id"], colour="red")
    await threads.create(agent_id=agent["id"])
    with pytest.raises(InvalidArgumentError, match="thread"):
        await agents.delete(agent["id"])
    with pytest.raises(NotFoundError):
        await agents.update("agt_missing", name="y")
