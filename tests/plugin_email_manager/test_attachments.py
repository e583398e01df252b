"""Serving attachments from hostile mail: no header injection, never as a page of our origin."""

from plugin_email_manager.attachments import disposition as _disposition
from plugin_email_manager.attachments import safe_type as _safe_type


def test_a_filename_with_line_breaks_cannot_add_a_header():
    value = _disposition("attachment", "evil\r\nSet-Cookie: x=1.pdf")
    assert "\r" not in value and "\n" not in value
    assert value.startswith('attachment; filename="evil Set-Cookie: x=1.pdf"')


def test_a_non_ascii_filename_survives_in_rfc_5987_form():
    assert _disposition("attachment", "Angebot März.pdf").endswith("filename*=UTF-8''Angebot%20M%C3%A4rz.pdf")


def test_active_content_is_served_as_bytes():
    for ctype in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript", None):
        assert _safe_type(ctype) == "application/octet-stream"
    assert _safe_type("application/pdf; name=x.pdf") == "application/pdf"
