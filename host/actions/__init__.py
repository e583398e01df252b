"""The generic actions every collection answers (NocoBase's), one module each; ``list`` lives in
``listing`` (a module named ``list`` would shadow the builtin wherever it is imported)."""

from __future__ import annotations

from host.actions import create, destroy, get, listing, update

GENERIC = {"list": listing.run, "get": get.run, "create": create.run, "update": update.run, "destroy": destroy.run}
