"""A plugin whose only UI is an extension of the generic collection page (host.api.UIExtension)."""

from __future__ import annotations

from pathlib import Path

from host.api import UIExtension
from host.hookspecs import hookimpl

HERE = Path(__file__).parent


@hookimpl
def register_ui():
    return [UIExtension(plugin="extends", module="/static/plugins/extends/extend.js", static_dir=HERE / "static")]
