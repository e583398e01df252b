"""One dispatcher for both transports: find ``<collection>:<action>``, check who may call it,
run it. REST (``host.rest``) and JSON-RPC (``host.rpc``) only translate parameters and answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from host.actions import GENERIC as GENERIC_ACTIONS
from host.api import Action, ActionContext
from host.auth import Caller
from host.errors import Forbidden, NotFound, Unauthorized

GENERIC = tuple(GENERIC_ACTIONS)
# actions whose JSON body is the record's values rather than parameters
VALUE_ACTIONS = ("create", "update")
# generic actions that change nothing (the session cookie alone may call them by GET)
READS = ("list", "get")


class UnknownAction(NotFound):
    """No such collection or action (JSON-RPC answers it -32601)."""

    code = "UNKNOWN_ACTION"


@dataclass
class VirtualAcl:
    def allows(self, role: str, action: str) -> bool:
        return True

    def scope_filter(self, user):
        return None

    def defaults_for(self, user):
        return {}


@dataclass
class VirtualCollection:
    """A resource with actions but no table (``auth``, ``badges``, ``collections``, ``app``)."""

    name: str
    title: str = ""
    internal: bool = False
    acl: VirtualAcl = field(default_factory=VirtualAcl)
    fields: dict = field(default_factory=dict)


class Dispatcher:
    def __init__(self, registry, actions: list[Action]):
        self.registry = registry
        self.virtual: dict[str, VirtualCollection] = {}
        self.actions: dict[tuple[str, str], Action] = {}
        for action in actions:
            if registry.get(action.collection) is None and action.collection not in self.virtual:
                self.virtual[action.collection] = VirtualCollection(action.collection)
            self.actions[(action.collection, action.name)] = action

    def collection(self, name: str):
        found = self.registry.get(name)
        if found is None or found.internal:
            found = self.virtual.get(name)
        if found is None:
            raise UnknownAction(f"There is no collection {name!r}.")
        return found

    def resolve(self, collection_name: str, action_name: str) -> tuple[Any, Action]:
        collection = self.collection(collection_name)
        action = self.actions.get((collection_name, action_name))
        if action is None and action_name in GENERIC and not isinstance(collection, VirtualCollection):
            action = Action(collection_name, action_name, GENERIC_ACTIONS[action_name], reads=action_name in READS)
        if action is None:
            raise UnknownAction(f"The collection {collection_name!r} has no action {action_name!r}.")
        return collection, action

    def is_public(self, collection_name: str, action_name: str) -> bool:
        action = self.actions.get((collection_name, action_name))
        return bool(action and action.public)

    def callable_by(self, role: str) -> list[tuple[str, str, Action]]:
        """Every ``(collection, action)`` a role may call (for the OpenAPI document)."""
        out = []
        names = [c.name for c in self.registry.values() if not c.internal] + list(self.virtual)
        for name in names:
            collection = self.collection(name)
            candidates = {a for (c, a) in self.actions if c == name}
            if not isinstance(collection, VirtualCollection):
                candidates |= set(GENERIC)
            for action_name in sorted(candidates):
                _, action = self.resolve(name, action_name)
                if action.public or collection.acl.allows(role, action_name):
                    out.append((name, action_name, action))
        return out

    async def call(
        self,
        host,
        caller: Caller | None,
        collection_name: str,
        action_name: str,
        params: dict[str, Any],
        values: dict[str, Any] | None = None,
        files: dict | None = None,
        client: str | None = None,
    ) -> Any:
        """Run an action for ``caller`` (None: no token). ``client`` is the caller's address."""
        collection, action = self.resolve(collection_name, action_name)
        if not action.public:
            if caller is None:
                raise Unauthorized("Sign in first.", code="UNAUTHORIZED")
            if caller.by_cookie and not action.reads:
                raise Unauthorized(
                    f"{collection_name}:{action_name} changes something: it needs the "
                    "Authorization header; the session cookie alone only reads.",
                    code="TOKEN_REQUIRED",
                )
            if not collection.acl.allows(caller.user.role, action_name):
                raise Forbidden(f"Your role may not call {collection_name}:{action_name}.")
        ctx = ActionContext(
            host=host,
            collection=collection,
            action=action_name,
            params=params,
            values=values or {},
            user=caller.user if caller else None,
            files=files or {},
            token=caller.token if caller else None,
            client=client,
        )
        result = await action.handler(ctx)
        return {"data": None} if result is None else result
