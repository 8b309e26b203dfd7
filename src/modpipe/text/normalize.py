"""Prompt normalisation before scoring (the gate's first step).

Public functions:

- `fold_for_matching(text)` folds a text to one lowercase ASCII-ish form that obfuscation cannot
  dodge: NFKC, zero-width and control characters removed, confusable homoglyphs folded to ASCII
  (Unicode TR39 data from `confusable-homoglyphs`, and the "fancy text" letters it lacks: small
  capitals, negative squared and circled, parenthesized and regional-indicator letters; then
  accents stripped by decomposition),
  spaced-out letters rejoined ("k i l l", "s.e.x", "s;e;x", "n🔥u🔥d🔥e"), leetspeak mapped inside words that contain
  letters ("k1ll", "$ex"), runs of a repeated character squeezed ("killllll" -> "kill",
  "seeexxx" -> "sex"), whitespace collapsed. Used by the gate and by name matching.
- `normalize_prompt(text)` returns the variants of a prompt to score: the normalised prompt
  first, the folded form when it differs, the prompt with its emoji spelt out when they stand
  for things ("how to hide a 💣" → "how to hide a bomb"; `emoji_words`), word-level repairs
  (`modpipe.text.words`: words run together split apart, letters masked with * filled in),
  then decoded hidden payloads
  (`modpipe.text.payloads`: base64, hex, binary, %-escapes, HTML references, Morse, invisible tag
  characters, Caesar and Atbash words, words spelt backwards, upside-down text). The gate scores
  every variant and keeps the worst, which defeats obfuscation.

Both are pure, fast (tens of microseconds for a typical prompt) and never raise on any `str`;
`warm()` loads their word lists up front (the `Pipeline` calls it).
Where a word list helps (rot13 detection, squeezing repeats back to a real word) the MiniLM
tokenizer's vocabulary is used when installed; without it the rules fall back to plain heuristics.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

from modpipe.text import words as _words
from modpipe.text.payloads import hidden_payloads
from modpipe.text.words import MENTION_OR_URL, known, unglue, unmask
from modpipe.text.words import vocab as _vocab

# (with the invisible tag characters and supplementary variation selectors: `payloads` reads
# what they carry from the prompt as received)
_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\u034f\u180e\u115f\u1160\u3164\uffa0"
                         "\U000e0000-\U000e007f\U000e0100-\U000e01ef]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")

# leetspeak: only applied inside words that also contain letters (see _deleet)
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
         "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l"}
_LEET_CHARS = re.escape("".join(_LEET))
_LEET_TAIL = "03$"
# a word holding a leetspeak character (only those can change: `_deleet_word`), matched whole
_LEETY_WORD = re.compile(
    rf"(?<![a-z0-9{_LEET_CHARS}])[a-z0-9{_LEET_CHARS}]*[{_LEET_CHARS}][a-z0-9{_LEET_CHARS}]*")
# three or more single characters separated by the same kind of light separator: "k i l l", "s.e.x"
# (punctuation, and emoji: "n🔥a🔥k🔥e🔥d"; a separator must repeat exactly, so "k|ll" stays leetspeak)
_SEPARATORS = " .-_*·•,/~;:'=^|+\""
_EMOJI_SEPARATORS = "\u2600-\u27bf\ufe0f\U0001f300-\U0001faff"
_SPACED = re.compile(
    rf"(?<![\w{_LEET_CHARS}])[a-z{_LEET_CHARS}]([{re.escape(_SEPARATORS)}{_EMOJI_SEPARATORS}]{{1,3}})[a-z{_LEET_CHARS}]"
    rf"(?:\1[a-z{_LEET_CHARS}])+(?![\w{_LEET_CHARS}])"
)
_REPEAT = re.compile(r"([a-z])\1{2,}")
_OTHER_REPEAT = re.compile(r"([^a-z0-9\s])\1{3,}")

_MAX_VARIANTS = 8


def normalize_text(text: str) -> str:
    """NFKC, zero-width and control characters removed, whitespace collapsed (case kept)."""
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """Non-ASCII character -> ASCII look-alike, from the Unicode confusables (TR39) data."""
    table: dict[int, str] = {}
    try:
        from confusable_homoglyphs import confusables
        data = confusables.confusables_data
    except Exception:  # noqa: BLE001 - folding degrades to decomposition only
        data = {}
    for ch, homoglyphs in data.items():
        if len(ch) != 1 or ch.isascii():
            continue
        ascii_alts = [h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()]
        if ascii_alts:
            # a letter looks like a letter: prefer one over a digit ("О" -> "O", not "0")
            letters = [a for a in ascii_alts if a.isalpha()]
            table[ord(ch)] = (letters or ascii_alts)[0]
    return table


# "fancy text" letters that neither NFKC nor the confusables data bring back to ASCII ("ɴᴀᴋᴇᴅ",
# "🅽🅰🅺🅴🅳", "⒩⒜⒦⒠⒟"); a regional indicator only alone ("🇳​🇦​🇰"): two side by side are a flag
_LETTERLIKE_NAME = re.compile(r"(?:LATIN LETTER SMALL CAPITAL|(?:NEGATIVE )?(?:SQUARED|CIRCLED) LATIN CAPITAL LETTER"
                              r"|PARENTHESIZED LATIN SMALL LETTER) ([A-Z])")
_LETTERLIKE_BLOCKS = ((0x0250, 0x02B0), (0x1D00, 0x1D2C), (0x249C, 0x24B6), (0xA720, 0xA800), (0x1F110, 0x1F1E6))
_REGIONAL = re.compile("(?<![\U0001f1e6-\U0001f1ff])[\U0001f1e6-\U0001f1ff](?![\U0001f1e6-\U0001f1ff])")


@lru_cache(maxsize=1)
def _letterlike_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for lo, hi in _LETTERLIKE_BLOCKS:
        for cp in range(lo, hi):
            m = _LETTERLIKE_NAME.fullmatch(unicodedata.name(chr(cp), ""))
            if m:
                table[cp] = m.group(1).lower()
    return table


def _letterlike(text: str) -> str:
    text = _REGIONAL.sub(lambda m: chr(ord(m.group(0)) - 0x1F1E6 + ord("a")), text)
    return text.translate(_letterlike_table())


def _to_ascii(text: str) -> str:
    text = text.translate(_fold_table())
    if text.isascii():
        return text
    # accents and stacked combining marks ("zalgo"): decompose and drop the marks
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _rejoin(match: re.Match[str]) -> str:
    run = match.group(0)
    chars = run.replace(match.group(1), "")
    return chars if sum(c.isalpha() for c in chars) >= 2 else run


def _deleet_word(word: str) -> str:
    letters = sum(c.isalpha() for c in word)
    if letters < 2 or letters == len(word):
        return word
    out = []
    for i, c in enumerate(word):
        if c.isalpha() or c not in _LEET:
            out.append(c)
            continue
        before = word[:i]
        after = word[i + 1:]
        interior = any(x.isalpha() for x in before) and any(x.isalpha() for x in after)
        # leading: "5ex", "$ex", "@ss" — needs at least two letters after it ("4k", "3d" stay)
        leading = all(x in _LEET for x in before) and sum(x.isalpha() for x in after) >= 2
        # trailing: only letter-shaped ones right after letters ("hell0", "th3", "a$$");
        # "mp4", "gpt4", "rot13" stay
        trailing = (not after.strip(_LEET_TAIL) and c in _LEET_TAIL and bool(before)
                    and (before[-1].isalpha() or before[-1] in _LEET_TAIL)
                    and sum(x.isalpha() for x in before) >= 2)
        out.append(_LEET[c] if interior or leading or trailing else c)
    folded = "".join(out)
    if word[0] == "@" and folded[0] == "a" and not known(folded.strip(string.punctuation)):
        return word[0] + folded[1:]  # a mention ("@bitterchick"), not leetspeak ("@ss", "@nal")
    return folded


def _squeeze_word(match: re.Match[str]) -> str:
    """Runs of 3+ equal letters: keep a double unless only a single makes a known word."""
    word = match.group(0)
    doubled = _REPEAT.sub(r"\1\1", word)
    vocab = _vocab()
    if not vocab or doubled in vocab:
        return doubled
    runs = [m.span() for m in _REPEAT.finditer(word)]
    if len(runs) > 4:
        return doubled
    for mask in range(1 << len(runs)):  # mask bit set = squeeze that run to one letter
        parts, last = [], 0
        for k, (lo, hi) in enumerate(runs):
            parts.append(word[last:lo])
            parts.append(word[lo] * (1 if mask >> k & 1 else 2))
            last = hi
        parts.append(word[last:])
        cand = "".join(parts)
        if cand in vocab:
            return cand
    return doubled


_SQUEEZE_WORD = re.compile(r"[a-z]*([a-z])\1{2,}[a-z]*")


def fold_for_matching(text: str) -> str:
    """One lowercase, obfuscation-free form of `text` for matching (see module docstring)."""
    return _fold(text if isinstance(text, str) else str(text))


@lru_cache(maxsize=1024)  # the gate folds a prompt, then the name matcher folds it again
def _fold(text: str) -> str:
    if not text.isascii():
        text = _letterlike(text)
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _CONTROL.sub(" ", text)
    if not text.isascii():
        text = _to_ascii(text)
    text = text.lower()
    text = _OTHER_REPEAT.sub(r"\1", text)
    text = _SPACED.sub(_rejoin, text)
    text = _LEETY_WORD.sub(lambda m: _deleet_word(m.group(0)), text)
    if _REPEAT.search(text):
        text = _SQUEEZE_WORD.sub(_squeeze_word, text)
    return _SPACES.sub(" ", text).strip()


# emoji that stand for tone or identity, not for a thing or an act, stay as written: smiley
# faces, hearts, hand gestures (the middle finger aside), flags, religious and gender symbols.
# Spelt out, "😂" read as "face with tears" and a trans pride flag as an identity mention, and
# the gate flagged chat messages it had allowed.
_TONE = re.compile(r"heart|(?<!middle_)finger|thumbs|fist|clap|muscle|raising|waving|victory|horns|call_me"
                   r"|index_pointing|love-you|palms|pinch|writing_hand|folded_hands|handshake|ok_hand|vulcan"
                   r"|transgender|star_of_david|star_and_crescent|latin_cross|orthodox_cross|menorah|dharma"
                   r"|yin_yang|^om$|place_of_worship|khanda|hamsa|(?:fe)?male_sign")
_MAYBE_EMOJI = re.compile("[\u2100-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]")
_SKIN_TONE = re.compile(r"_(?:light|medium-light|medium|medium-dark|dark)_skin_tone")
_SMILEYS = ((0x1F600, 0x1F650), (0x1F910, 0x1F930), (0x1F970, 0x1F980), (0x1FAE0, 0x1FAF0), (0x2639, 0x263B))


def _name(chars: str, data: dict, every: bool = False) -> str | None:
    """An emoji's CLDR name in words, or None for one that stands for tone or identity (unless
    `every`)."""
    name = _SKIN_TONE.sub("", data.get("en", "").strip(":"))
    first = ord(chars[0])
    if not name or not every and (
            _TONE.search(name.lower()) or "\U0001f3f3" in chars or "\U000e007f" in chars
            or any(lo <= first < hi for lo, hi in _SMILEYS) or any(0x1F1E6 <= ord(c) <= 0x1F1FF for c in chars)):
        return None
    return name.replace("_", " ")


def _plural(name: str) -> str:
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    return name[:-1] + "ies" if name.endswith("y") and name[-2:-1] not in "aeiou" else name + "s"


def emoji_words(text: str, every: bool = False) -> str | None:
    """The text with each emoji that stands for a thing or an act written as its name ("I'm
    going to 💊💊💊 and never wake up" → "… pills …", "🍆💦" → "eggplant sweat droplets"; the
    `emoji` package's CLDR names, a run of one emoji as its plural), since the encoder's
    vocabulary has no emoji; None when no emoji is spelt out (`_TONE`, `_SMILEYS`: faces,
    hearts, gestures, flags, religious and gender symbols stay as written, unless `every`)."""
    import emoji

    found = emoji.emoji_list(text)
    out, last, i = [], 0, 0
    while i < len(found):
        j = i  # a run of the same emoji, side by side or spaced
        while (j + 1 < len(found) and found[j + 1]["emoji"] == found[i]["emoji"]
               and not text[found[j]["match_end"]:found[j + 1]["match_start"]].strip()):
            j += 1
        name = _name(found[i]["emoji"], emoji.EMOJI_DATA.get(found[i]["emoji"], {}), every)
        if name is not None:
            out += [text[last:found[i]["match_start"]], f" {_plural(name) if j > i else name} "]
            last = found[j]["match_end"]
        i = j + 1
    if not out:
        return None
    return _SPACES.sub(" ", "".join(out) + text[last:]).strip()


def emoji_only(text: str) -> bool:
    """Whether `text` holds emoji and no letter or digit: the encoder reads it as [UNK]s alone."""
    return not text.isascii() and bool(_MAYBE_EMOJI.search(text)) and not any(c.isalnum() for c in text)


def warm() -> None:
    """Load the word lists, wordninja's model and the emoji names now (~0.3 s), so that no prompt
    waits for them."""
    _fold_table()
    _letterlike_table()
    emoji_words("🔪")  # the emoji package's tables (~40 ms)
    _words.warm()


def normalize_prompt(text: str) -> list[str]:
    """Variants of a prompt to score: normalised text first, then the folded form if it differs,
    then word-level repairs (`words.unglue`, `words.unmask`), then decoded hidden payloads.
    Never raises; always returns at least one string."""
    try:
        if not isinstance(text, str):
            text = str(text)
        base = normalize_text(text)
        variants = [base]
        # "⒩⒜⒦⒠⒟" and "🇳\u200b🇦" become letters before NFKC and zero-width removal change them
        lettered = text if text.isascii() else _letterlike(text)
        folded = fold_for_matching(base if lettered == text else normalize_text(lettered))
        if folded and folded != base.lower():
            variants.append(folded)
        # before a zero-width joiner is dropped; the emoji package only where an emoji may be (~30 µs).
        # A text of emoji alone reaches the encoder as [UNK]s, one reading for every such text
        # (all were blocked as sexual 0.96): it is read as its emoji's names instead, every one.
        spelt = None
        if not text.isascii() and _MAYBE_EMOJI.search(text):
            alone = emoji_only(base)
            spelt = emoji_words(text, every=alone)
            if spelt and alone:
                variants = []
        if spelt:
            variants.append(normalize_text(spelt))
        repaired = fold_for_matching(MENTION_OR_URL.sub(" ", base))
        for v in (unglue(repaired), *unmask(repaired)):
            if v and v not in variants:
                variants.append(v)
        for payload in hidden_payloads(base, raw=text):
            for v in (normalize_text(payload), fold_for_matching(payload)):
                if v and v.lower() not in {x.lower() for x in variants}:
                    variants.append(v)
        return variants[:_MAX_VARIANTS]
    except Exception:  # noqa: BLE001 - normalisation must never drop a prompt
        return [text if isinstance(text, str) else ""]
