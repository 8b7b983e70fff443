"""Carrier keywords are whole messages, in any case, width or with stray punctuation."""

from __future__ import annotations

import pytest

from channels.sms.keywords import Keyword, classify


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop\n", "STOPALL", "unsubscribe", "CANCEL", "end", "Quit",
                                  "退订", " 退订。", "TD", "td", "ＳＴＯＰ", "stop!", "STOP."])
def test_opt_out_words(text: str) -> None:
    assert classify(text) is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["START", "unstop", "Yes", "yes!"])
def test_opt_in_words(text: str) -> None:
    assert classify(text) is Keyword.OPT_IN


def test_help() -> None:
    assert classify(" help ") is Keyword.HELP


@pytest.mark.parametrize("text", ["please stop", "stop sending me this", "我要退订吗", "", "   ", "STOP STOP",
                                  "tdd", "helpdesk", "x" * 5000])
def test_sentences_are_not_keywords(text: str) -> None:
    assert classify(text) is None
