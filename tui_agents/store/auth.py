"""Auth: role grants on resources, and checks of actions against them.

Roles rank owner > editor > viewer; actions rank manage > write > read. An owner
may manage, write and read; an editor write and read; a viewer read. A user has
at most one role per resource (assigning replaces it).

Wildcards: a grant on resource id ``"*"`` covers every resource of that type
(``("thread", "*")``), and a grant on ``("*", "*")`` covers everything; ``check``
takes the highest role among the exact, type-wide and global grants. The app
makes its user owner of each thread it creates, forks, branches or imports, and
of the user's own threads made elsewhere (``aiagents-tui ask``, a script) at
their first turn in the app (``ChatSession.adopt``).
"""

from __future__ import annotations

import sqlite3

import aiosqlite

from tui_agents.errors import InvalidArgumentError, PermissionDeniedError
from tui_agents.store.db import run, write
from tui_agents.store.records import GrantRecord, fetch_all, now

__all__ = ["Auth", "ROLES", "ACTIONS", "ANY"]

ROLES = {"viewer": 1, "editor": 2, "owner": 3}
ACTIONS = {"read": 1, "write": 2, "manage": 3}  # the role rank an action needs
ANY = "*"


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidArgumentError(f"Role {role!r} is not one of owner, editor, viewer.")


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise InvalidArgumentError(f"Action {action!r} is not one of manage, write, read.")


class Auth:
    """Assign and revoke roles; check whether a user may act on a resource."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def assign_role(self, user_id: str, role: str, resource_type: str, resource_id: str) -> GrantRecord:
        """Give the user this role on the resource (replacing any role they had on it)."""
        _check_role(role)
        record = GrantRecord(user_id=user_id, role=role, resource_type=resource_type, resource_id=resource_id,
                             created_at=now())

        def upsert(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO grants(user_id, resource_type, resource_id, role, created_at) VALUES (?,?,?,?,?) "
                       "ON CONFLICT(user_id, resource_type, resource_id) DO UPDATE SET role = excluded.role, "
                       "created_at = excluded.created_at",
                       (user_id, resource_type, resource_id, role, record["created_at"]))

        await write(self.conn, upsert)
        return record

    async def revoke_role(self, user_id: str, role: str | None, resource_type: str, resource_id: str) -> bool:
        """Take the role away (role None: whatever role the user has there); True if a grant was removed."""
        if role is not None:
            _check_role(role)

        def remove(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM grants WHERE user_id = ? AND resource_type = ? AND resource_id = ? "
                              "AND (? IS NULL OR role = ?)",
                              (user_id, resource_type, resource_id, role, role)).rowcount > 0

        return await write(self.conn, remove)

    async def check(self, user_id: str, action: str, resource_type: str, resource_id: str) -> bool:
        """True if one of the user's grants (exact, type-wide ``*`` or global ``*``/``*``) allows the action."""
        _check_action(action)

        def select(db: sqlite3.Connection) -> bool:
            roles = db.execute(
                "SELECT role FROM grants WHERE user_id = ? AND ("
                "(resource_type = ? AND resource_id IN (?, '*')) OR (resource_type = '*' AND resource_id = '*'))",
                (user_id, resource_type, resource_id)).fetchall()
            return max((ROLES.get(r[0], 0) for r in roles), default=0) >= ACTIONS[action]

        return await run(self.conn, select)

    async def require(self, user_id: str, action: str, resource_type: str, resource_id: str) -> None:
        """Raise PermissionDeniedError unless ``check`` allows the action."""
        if not await self.check(user_id, action, resource_type, resource_id):
            raise PermissionDeniedError(
                f"User {user_id} may not {action} {resource_type} {resource_id}; ask an owner for a role.")

    async def list_grants(self, user_id: str | None = None, resource_type: str | None = None,
                          resource_id: str | None = None) -> list[GrantRecord]:
        """Grants matching every filter given."""
        rows = await run(self.conn, fetch_all,
                         "SELECT user_id, role, resource_type, resource_id, created_at FROM grants "
                         "WHERE (:u IS NULL OR user_id = :u) AND (:t IS NULL OR resource_type = :t) "
                         "AND (:r IS NULL OR resource_id = :r) ORDER BY user_id, resource_type, resource_id",
                         {"u": user_id, "t": resource_type, "r": resource_id})
        return [GrantRecord(**dict(r)) for r in rows]  # type: ignore[typeddict-item]
