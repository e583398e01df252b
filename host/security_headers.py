"""The security headers of every answer, set in one place: aiohttp's ``on_response_prepare``
signal, which sees every response just before its headers leave (``web.FileResponse`` and
streamed ones such as the badge stream included, which a middleware's return value would miss).

- every answer: ``X-Content-Type-Options: nosniff`` (a JSON body or an upload is never
  sniffed into HTML) and ``Referrer-Policy: same-origin`` (our URLs carry ids; another site gets
  no referrer at all);
- every HTML page: ``PAGE_POLICY`` below, and ``X-Frame-Options: DENY`` for browsers that predate
  ``frame-ancestors``.

A handler that sets its own ``Content-Security-Policy`` keeps it (an attachment download sends
``default-src 'none'``, stricter than any page): the handler knows what it answers.
"""

from __future__ import annotations

from aiohttp import web

# Why each directive (the admin is one document: /admin/... is routed in the browser, so
# /signin and every admin page share one policy, and the message frames inherit it too, since an
# <iframe srcdoc> takes its parent's policy besides its own <meta> one):
PAGE_POLICY = "; ".join(
    (
        # anything not named below: our own origin only
        "default-src 'self'",
        # scripts are ES modules from /static only: no inline <script>, no on*= handlers, no
        # javascript: URLs, no eval; 'none' for plugins (<object>, <embed>)
        "script-src 'self'",
        "object-src 'none'",
        # stylesheets (<link>, <style>) from /static only, so injected markup cannot bring CSS
        # selectors that read the page; style *attributes* are allowed: HTML mail is styled with
        # them (the server keeps a safe subset) in the message frames and in the compose editor,
        # and an attribute can neither select nor read anything
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        # images: ours, data: (inline icons, small mail images), and any http(s) host, because a
        # message frame inherits this policy and must be able to show the remote images a person
        # asks for ("Show images"); until then the frame's own policy blocks them
        "img-src 'self' data: https: http:",
        "font-src 'self' data:",
        # the API, the badge stream (EventSource) and the OAuth page's polling: our origin
        "connect-src 'self'",
        # no <base href> may redirect relative URLs; forms post to us only; no one frames us
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
PAGE_ONLY = {"Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a header the handler set wins over ours."""
    headers = response.headers
    for name, value in EVERY_ANSWER.items():
        headers.setdefault(name, value)
    if response.content_type == "text/html":
        for name, value in PAGE_ONLY.items():
            headers.setdefault(name, value)


def install_security_headers(app: web.Application) -> None:
    """Send the headers with every answer of ``app``."""
    app.on_response_prepare.append(add_security_headers)
