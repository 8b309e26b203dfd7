"""The name matcher finds public figures however their names are disguised, and nothing else.

The gallery below is made up on purpose: the matcher must work for any names a user imports,
with nothing tuned per name.
"""

from __future__ import annotations

import os

import json

import pytest

from modpipe.likeness.names import NameMatcher

GALLERY = [
    ("p-swift", "Taylor Swift", "public_figure", ["T-Swift"]),
    ("p-obama", "Barack Obama", "public_figure", []),
    ("p-bush", "George W. Bush", "public_figure", []),
    ("p-grant", "Hugh Grant", "public_figure", []),
    ("p-jordan", "Michael Jordan", "public_figure", []),
    ("p-smith", "Will Smith", "public_figure", []),
    ("p-rihanna", "Robyn Fenty", "public_figure", ["Rihanna"]),
    ("p-drake", "Aubrey Graham", "public_figure", ["Drake"]),
    ("p-zuck", "Mark Zuckerberg", "public_figure", ["Zuck"]),
    ("p-newhouse", "Dan Newhouse", "public_figure", []),
    ("p-hanks", "Tom Hanks", "public_figure", []),
    ("c-ana", "Ana Lucia Ferreira", "cameo_owner", []),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(GALLERY)


def who(matcher: NameMatcher, text: str) -> list[str]:
    return [m.person_id for m in matcher.find(text)]


@pytest.mark.parametrize("text", [
    "Taylor Swift singing on a rooftop",             # plain
    "TAYLOR SWIFT!!! singing",                       # case, punctuation
    "taylor.swift singing",                          # punctuation inside
    "Tаylor Swіft singing",                          # Cyrillic а and і (homoglyphs)
    "Tay\u200blor Sw\u200dift singing",              # zero-width characters
    "T4yl0r Sw1ft singing",                          # leetspeak
    "t a y l o r  s w i f t singing",                # spaced out
    "TaylorSwift singing",                           # run together
    "taaaylorrr swiiift singing",                    # repeated letters
    "Taylor Swfit singing",                          # swapped letters
    "Tayler Swift singing",                          # near-misspelling
    "Ｔａｙｌｏｒ Ｓｗｉｆｔ singing",                    # full-width (NFKC)
])
def test_obfuscated_names_are_found(matcher, text):
    assert who(matcher, text) == ["p-swift"]


def test_evidence_names_the_person_and_the_text_span(matcher):
    [m] = matcher.find("a video where barak obama dances")
    assert (m.person_id, m.name, m.kind, m.distance) == ("p-obama", "Barack Obama", "public_figure", 1)
    assert m.matched == "barak obama" and m.span == (14, 25)


def test_middle_initials_and_distinctive_one_word_aliases(matcher):
    assert who(matcher, "George Bush at a ranch") == ["p-bush"]
    assert who(matcher, "george w bush at a ranch") == ["p-bush"]
    assert who(matcher, "Rihanna on stage") == ["p-rihanna"]  # distinctive mononym alias
    assert who(matcher, "r1hanna on stage") == ["p-rihanna"]
    assert who(matcher, "a cameo of ana lucia ferreira") == ["c-ana"]
    assert who(matcher, "Mark Zuckberg at a desk") == ["p-zuck"]


@pytest.mark.parametrize("text", [
    "a rose bush in a garden",
    "a sailboat on the Jordan river",
    "I will grant you three wishes",
    "Taylor walks her dog; a swift bird flies by",
    "Michael and Barack play chess",                 # first names alone
    "a drake swims on the pond",                     # "Drake" is a dictionary word: not used alone
    "an old zuck-style hoodie",                      # short alias: not distinctive
    "a new house by the lake",                       # ≈ "Dan Newhouse" only by joining words
    "they went to thanks giving",                    # ≈ "Tom Hanks" only by a dropped letter
    "swift taylor-made suits",
    "an obama-era building",                         # a surname alone is not a match
])
def test_ordinary_words_are_not_names(matcher, text):
    assert who(matcher, text) == []


def test_imported_public_figures_from_the_dev_names_file(shared_data):
    people = [(r["id"], r["name"], "public_figure", r["aliases"])
              for r in map(json.loads, (shared_data / "names/public_figures.jsonl").read_text().splitlines())]
    m = NameMatcher(people)
    assert [x.name for x in m.find("Bernie Sanders giving a speech")] == ["Bernard Sanders"]
    assert [x.name for x in m.find("A portrait of b4rack 0bama")] == ["Barack Obama"]
    # benign prompt sets name nobody
    for src in ("vbench", "coco_captions"):
        rows = [json.loads(line)["text"] for line in (shared_data / f"text/{src}.jsonl").read_text().splitlines()]
        assert [t for t in rows if m.find(t)] == []


def test_a_misspelt_name_matches_in_every_process_whatever_the_hash_seed():
    # "Becca A. Balint" folds to the same key as "Becca Balint" but with three words; which of
    # the two the index kept once depended on set order, i.e. on the process's hash seed, and a
    # misspelt two-word window lines up only with the two-word one
    import subprocess
    import sys

    code = ("from modpipe.likeness.names import NameMatcher; "
            "m = NameMatcher([('p', 'Becca Balint', 'public_figure', ['Becca A. Balint'])]); "
            "print([(h.person_id, h.distance) for h in m.find('the Becca Balit speech on tv')])")
    env = dict(os.environ)
    outs = set()
    for seed in range(8):
        env["PYTHONHASHSEED"] = str(seed)
        outs.add(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True, env=env).stdout.strip())
    assert outs == {"[('p', 1)]"}
