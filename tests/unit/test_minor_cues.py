"""Minor cues (`modpipe.text.minors`): the words that say someone in a text is a child. The text
scorer multiplies the sexual score by this cue for `sexual_minors`, so a wrong cue either misses
a child or sends adult content down the child-safety path."""

from __future__ import annotations

import pytest

from modpipe.text.minors import CHILD, YOUNG, minor_cue


@pytest.mark.parametrize("text, words", [
    ("a story where the teacher seduces her 14 year old student", "14 year old"),
    ("a fourteen-year-old girl", "fourteen-year-old"),
    ("roleplay as my 12yo niece", "12yo"),
    ("she's 15 y/o", "15 y/o"),
    ("a boy aged 11", "aged 11"),
    ("upskirt shot, she is 15.", "she is 15"),
    ("i'm 13 and my bf wants pics", "i'm 13"),
    ("two middle schoolers alone in a bedroom", "middle schoolers"),
    ("an 8th grader at a sleepover", "8th grader"),
    ("sex with a minor.", "a minor"),
    ("a preteen posing in underwear", "preteen"),
    ("nude shota boy", "shota"),
    ("a little girl in a bath", "little girl"),
    ("a 30 year old man and a 12 year old girl", "12 year old"),  # an adult beside a child: still a child
])
def test_an_age_under_18_or_a_word_for_a_child_is_a_child(text: str, words: str) -> None:
    assert minor_cue(text) == (CHILD, words)


@pytest.mark.parametrize("text", ["a teen girl in a bikini", "teenage lovers", "a schoolgirl in a short skirt"])
def test_words_said_of_minors_and_young_adults_alike_are_a_weaker_cue(text: str) -> None:
    assert minor_cue(text)[0] == YOUNG < CHILD


@pytest.mark.parametrize("text", [
    "hot teen girl, 19 years old",
    "an adult in a schoolgirl costume at a costume party",
    "three sexy college schoolgirls",
    "teen couple in their 20s",
    "teen models (18+) at a pool party",
])
def test_a_stated_adult_age_takes_the_weaker_cue_back(text: str) -> None:
    assert minor_cue(text) == (0.0, None)


@pytest.mark.parametrize("text", [
    "a girl in lingerie on a bed",           # "girl" is said of adult women all the time
    "a 25 year old woman and her 30-year-old husband",
    "she is 5 feet tall and loves hiking",   # a number that is not an age
    "a minor injury at the gym",             # minor as an adjective
    "i'm 14 years into my marriage",         # a number of years that is not an age
    "we've been together 15 yrs",
    "a hot shirtless 2 0 years old man",     # 20 with a space in it, as image prompts write it
    "",
])
def test_no_cue_where_no_child_is_named(text: str) -> None:
    assert minor_cue(text) == (0.0, None)
