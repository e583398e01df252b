"""Properties of the subject key conversations fall back on (``subjects.normalize_subject``):
it never raises, it is idempotent, and a reply or forward prefix in any language (counted,
full-width colon, list tags) does not change it. Plain regressions for what hypothesis found
follow the properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin_email_manager.conversations.subjects import (
    _FORWARD,
    _REPLY,
    forward_subject,
    normalize_subject,
    reply_subject,
)

PROPERTY = settings(max_examples=500, deadline=None)

# text with what subjects are made of: letters of many scripts, every kind of space, brackets,
# colons (ASCII and full-width), digits, and the prefixes themselves
pieces = st.sampled_from(
    [
        "Re:",
        "RE :",
        "AW:",
        "Fwd:",
        "(fwd)",
        "[list]",
        "[",
        "]",
        ":",
        "：",
        " ",
        "\t",
        "\u3000",
        "\n",
        "ß",
        "İ",
        "ſ",
        "ﬀ",
        "Σ",
        "Re[2]:",
        "回复：",
        "x",
        "2",
    ]
)
subjects = st.one_of(st.text(), st.lists(pieces | st.text(max_size=3), max_size=12).map("".join))


@st.composite
def prefixes(draw) -> str:
    """One reply or forward prefix as some client writes it."""
    word = draw(st.sampled_from(_REPLY + _FORWARD))
    word = draw(st.sampled_from([word, word.upper(), word.capitalize()]))
    count = draw(st.sampled_from(["", "[2]", "(3)", "^4", "5"]))
    return (
        draw(st.sampled_from(["", " "]))
        + word
        + draw(st.sampled_from(["", " "]))
        + count
        + draw(st.sampled_from([":", "：", " :"]))
        + draw(st.sampled_from(["", " ", "  "]))
    )


tags = st.text(st.characters(exclude_characters="[]"), min_size=1, max_size=20).map(lambda t: f"[{t}] ")


@PROPERTY
@given(subjects | st.none())
def test_normalizing_never_raises_and_gives_text(subject):
    assert isinstance(normalize_subject(subject), str)


@PROPERTY
@given(subjects)
def test_normalizing_twice_is_normalizing_once(subject):
    once = normalize_subject(subject)
    assert normalize_subject(once) == once


@PROPERTY
@given(subjects, st.lists(prefixes() | tags, min_size=1, max_size=3))
def test_reply_and_forward_prefixes_and_list_tags_do_not_change_the_key(subject, added):
    assert normalize_subject("".join(added) + subject) == normalize_subject(subject)


@PROPERTY
@given(subjects)
def test_a_reply_or_forward_subject_keeps_the_conversation_key(subject):
    assert normalize_subject(reply_subject(subject)) == normalize_subject(subject)
    assert normalize_subject(forward_subject(subject)) == normalize_subject(subject)
    assert reply_subject(reply_subject(subject)) == reply_subject(subject)


# what hypothesis found: each key changed when normalized again
def test_every_fwd_suffix_goes_not_just_the_last():
    assert normalize_subject("(fw)(fw)") == normalize_subject("") == ""
    assert normalize_subject("Plans (fwd) (FWD)") == "plans"


def test_a_list_tag_that_fits_once_spaces_are_folded_goes():
    subject = "[" + "a" + " " * 70 + "b] Topic"
    assert normalize_subject(subject) == normalize_subject(normalize_subject(subject)) == "topic"
