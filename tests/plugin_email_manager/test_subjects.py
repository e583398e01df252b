"""Subjects of one conversation normalize alike; replies and forwards never stack prefixes."""

from __future__ import annotations

import pytest

from plugin_email_manager.conversations.subjects import (
    forward_subject,
    is_forward_subject,
    is_reply_subject,
    normalize_subject,
    reply_subject,
)


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Meeting notes",
        "RE: Meeting notes",
        "re:Meeting notes",
        "Fwd: Meeting notes",
        "FW: Meeting notes",
        "Fw: Meeting notes",
        "AW: Meeting notes",
        "WG: Meeting notes",
        "SV: Meeting notes",
        "VS: Meeting notes",
        "Antw: Meeting notes",
        "Doorst: Meeting notes",
        "RIF: Meeting notes",
        "TR: Meeting notes",
        "R: Meeting notes",
        "Réf: Meeting notes",
        "回复: Meeting notes",
        "答复：Meeting notes",
        "转发: Meeting notes",
        "回覆: Meeting notes",
        "轉寄: Meeting notes",
        "Re[2]: Meeting notes",
        "Re(2): Meeting notes",
        "Re^2: Meeting notes",
        "RE : Meeting notes",
        "Re：Meeting notes",
        "[team] Re: Meeting notes",
        "Re: [team] Meeting notes",
        "Re: Fwd: AW: [team] Meeting   notes ",
        "  MEETING NOTES  ",
        "Fwd: Meeting notes (fwd)",
    ],
)
def test_prefixes_in_many_languages_normalize_away(subject: str):
    assert normalize_subject(subject) == "meeting notes"


def test_the_examples():
    assert normalize_subject("Hello") == normalize_subject("hello") == "hello"
    assert normalize_subject("Re: Re: Re: x") == "x"
    assert normalize_subject("AW: AW: Angebot") == "angebot"
    assert normalize_subject("[list] Re: topic") == "topic"
    assert normalize_subject(None) == normalize_subject("") == ""


@pytest.mark.parametrize("subject", ["Report: Q3", "Rezept: Kuchen", "Trip: Paris", "Area 51", "Fwdx: y", "Reunion"])
def test_words_that_only_look_like_prefixes_are_kept(subject: str):
    assert normalize_subject(subject) == subject.casefold()
    assert not is_reply_subject(subject)


def test_is_reply_subject():
    assert is_reply_subject("Re: x") and is_reply_subject("AW: x") and is_reply_subject("[list] SV: x")
    assert is_reply_subject("回复：x") and is_reply_subject("Re[3]: x")
    assert not is_reply_subject("Fwd: x") and not is_reply_subject("x") and not is_reply_subject(None)
    assert is_forward_subject("WG: x") and not is_forward_subject("Re: x")


def test_reply_subject_never_doubles():
    assert reply_subject("Hello") == "Re: Hello"
    assert reply_subject(reply_subject("Hello")) == "Re: Hello"
    assert reply_subject("RE: Angebot") == "RE: Angebot"
    assert reply_subject("AW: Angebot") == "AW: Angebot"
    assert reply_subject("[list] Re: topic") == "[list] Re: topic"
    assert reply_subject("Fwd: news") == "Re: Fwd: news"
    assert reply_subject("") == "Re:" and reply_subject(None) == "Re:"


def test_forward_subject_never_doubles():
    assert forward_subject("Hello") == "Fwd: Hello"
    assert forward_subject(forward_subject("Hello")) == "Fwd: Hello"
    assert forward_subject("FW: Hello") == "FW: Hello"
    assert forward_subject("Re: Hello") == "Fwd: Re: Hello"
