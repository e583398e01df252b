"""The page the OAuth callback answers: it follows the first sync and closes itself, telling the
window that opened it. Its script and style are files of the plugin's static folder: the page's
Content-Security-Policy (as for every page) allows no inline <script> nor <style>."""

from __future__ import annotations

from host.api import Raw

STATIC = "/static/plugins/email_manager"

PROGRESS = """<p id=status>Account linked. The first sync is running…</p>
<progress id=bar></progress>"""


def page(title: str, body: str, status: int = 200, account_id: int | None = None) -> Raw:
    script = f'<script type=module src="{STATIC}/oauth-callback.js"></script>' if account_id is not None else ""
    main = f'<main data-account-id="{account_id}">' if account_id is not None else "<main>"
    doc = f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>
<meta name=viewport content="width=device-width,initial-scale=1">
<link rel=stylesheet href="{STATIC}/oauth-callback.css">{script}</head>
<body>{main}<h1>{title}</h1>{body}</main></body></html>"""
    return Raw(doc.encode(), "text/html; charset=utf-8", status=status, headers={"Cache-Control": "no-store"})
