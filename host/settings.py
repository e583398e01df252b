"""Settings: a plugin's defaults (``plugin.toml``), overridden by the environment
(``EMAIL_CENTER_<NAME>``), overridden at run time by records a plugin loads (``set_overrides``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from host.errors import ConfigError

ENV_PREFIX = "EMAIL_CENTER_"


BOOLEAN = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _coerce(raw: str, like: Any) -> Any:
    """Read an environment string as the type of the default it overrides (ValueError if it is
    not one, with what it must be)."""
    if isinstance(like, bool):
        if raw.strip().lower() not in BOOLEAN:
            raise ValueError("must be true or false (1/0, yes/no, on/off)")
        return BOOLEAN[raw.strip().lower()]
    try:
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
        if isinstance(like, (dict, list)):
            value = json.loads(raw)
            if not isinstance(value, type(like)):
                raise ValueError
            return value
    except ValueError:
        kind = {int: "a whole number", float: "a number", dict: "a JSON object", list: "a JSON list"}[type(like)]
        raise ValueError(f"must be {kind}") from None
    return raw


class Settings:
    def __init__(self, defaults: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None):
        self._defaults: dict[str, Any] = {}
        self._env = os.environ if env is None else env
        self._overrides: dict[str, Any] = {}
        if defaults:
            self.add_defaults(defaults)

    def add_defaults(self, defaults: Mapping[str, Any]) -> None:
        for name, value in defaults.items():
            if name in self._defaults and self._defaults[name] != value:
                raise ValueError(f"setting {name!r} is declared twice with different defaults")
            self._defaults[name] = value

    def set_overrides(self, values: Mapping[str, Any]) -> None:
        """Run-time values (e.g. from a settings record); they win over the environment."""
        self._overrides = {k: v for k, v in values.items() if k in self._defaults}

    def get(self, name: str, default: Any = None) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        raw = self._env.get(ENV_PREFIX + name.upper())
        like = self._defaults.get(name, default)
        if raw is not None:
            try:
                return _coerce(raw, like)
            except ValueError as e:
                raise ValueError(f"{ENV_PREFIX}{name.upper()} {e} (it is {raw!r})") from None
        return like

    def check(self) -> None:
        """Read every setting's environment override once: a malformed one stops start-up
        (``ConfigError`` naming the variable and what it must be) rather than a job later."""
        for name in self._defaults:
            try:
                self.get(name)
            except ValueError as e:
                raise ConfigError(str(e)) from None

    def __getitem__(self, name: str) -> Any:
        if name not in self._defaults:
            raise KeyError(name)
        return self.get(name)

    def names(self) -> list[str]:
        return sorted(self._defaults)
