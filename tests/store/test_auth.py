"""Auth: the role/action matrix, wildcards, revoke, require and list_grants."""

from __future__ import annotations

import pytest

from tui_agents.errors import InvalidArgumentError, PermissionDeniedError

MATRIX = {
    "owner": {"manage": True, "write": True, "read": True},
    "editor": {"manage": False, "write": True, "read": True},
    "viewer": {"manage": False, "write": False, "read": True},
}


@pytest.mark.parametrize("role", MATRIX)
async def test_role_action_matrix(auth, role):
    await auth.assign_role("u", role, "thread", "thr_1")
    for action, allowed in MATRIX[role].items():
        assert await auth.check("u", action, "thread", "thr_1") is allowed
        assert await auth.check("u", action, "thread", "thr_2") is False
        assert await auth.check("other", action, "thread", "thr_1") is False


async def test_assign_replaces_and_revoke_removes(auth):
    await auth.assign_role("u", "owner", "thread", "t")
    await auth.assign_role("u", "viewer", "thread", "t")
    assert await auth.check("u", "write", "thread", "t") is False
    assert await auth.revoke_role("u", "editor", "thread", "t") is False
    assert await auth.revoke_role("u", "viewer", "thread", "t") is True
    assert await auth.check("u", "read", "thread", "t") is False


async def test_global_and_type_wide_grants(auth):
    await auth.assign_role("local", "owner", "*", "*")
    assert await auth.check("local", "manage", "thread", "anything")
    assert await auth.check("local", "manage", "agent", "agt_x")
    await auth.assign_role("reader", "viewer", "thread", "*")
    assert await auth.check("reader", "read", "thread", "thr_9")
    assert not await auth.check("reader", "read", "agent", "agt_9")
    assert not await auth.check("reader", "write", "thread", "thr_9")


async def test_require_and_list_grants(auth):
    await auth.assign_role("u", "editor", "thread", "t1")
    await auth.assign_role("u", "viewer", "agent", "a1")
    await auth.assign_role("v", "owner", "thread", "t1")
    await auth.require("u", "write", "thread", "t1")
    with pytest.raises(PermissionDeniedError, match="may not manage"):
        await auth.require("u", "manage", "thread", "t1")
    assert len(await auth.list_grants()) == 3
    assert {(g["user_id"], g["role"]) for g in await auth.list_grants(resource_type="thread", resource_id="t1")} == \
           {("u", "editor"), ("v", "owner")}
    assert [g["resource_id"] for g in await auth.list_grants(user_id="u", resource_type="agent")] == ["a1"]


async def test_unknown_role_or_action_is_invalid(auth):
    with pytest.raises(InvalidArgumentError):
        await auth.assign_role("u", "admin", "thread", "t")
    with pytest.raises(InvalidArgumentError):
        await auth.check("u", "delete", "thread", "t")


async def test_fork_copies_thread_grants_and_delete_removes_them(auth, threads, thread):
    await auth.assign_role("u1", "owner", "thread", thread["id"])
    fork = await threads.fork(thread["id"])
    assert await auth.check("u1", "manage", "thread", fork["id"])
    await threads.delete(fork["id"])
    assert await auth.list_grants(resource_id=fork["id"]) == []
