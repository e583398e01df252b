"""The email manager plugin: links mail accounts, syncs them, threads and sends mail.

It talks to the host only through ``host.hookspecs`` (see ``plugin_email_manager.plugin``).
"""

from __future__ import annotations

from pathlib import Path


def manifest_path() -> Path:
    """Where this plugin's ``plugin.toml`` is: in the wheel's data folder, else the checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "email_center_data" / "plugin.toml", here.parent / "plugin.toml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("plugin.toml of the email manager plugin not found")
