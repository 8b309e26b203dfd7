"""Prompt normalisation before scoring (the gate's first step).

Public functions:

- `fold_for_matching(text)` folds a text to one lowercase ASCII-ish form that obfuscation cannot
  dodge: NFKC, zero-width and control characters removed, confusable homoglyphs folded to ASCII
  (Unicode TR39 data from `confusable-homoglyphs`, then accents stripped by decomposition),
  spaced-out letters rejoined ("k i l l", "s.e.x"), leetspeak mapped inside words that contain
  letters ("k1ll", "$ex"), runs of a repeated character squeezed ("killllll" -> "kill",
  "seeexxx" -> "sex"), whitespace collapsed. Used by the gate and by name matching.
- `normalize_prompt(text)` returns the variants of a prompt to score: the normalised prompt
  first, the folded form when it differs, word-level repairs (`modpipe.text.words`: words run
  together split apart, letters masked with * filled in), then decoded hidden payloads (base64,
  hex, %-escapes, rot13 words, words spelt backwards, upside-down text). The gate scores every
  variant and keeps the worst, which defeats obfuscation.

Both are pure, fast (tens of microseconds for a typical prompt) and never raise on any `str`;
`warm()` loads their word lists up front (the `Pipeline` calls it).
Where a word list helps (rot13 detection, squeezing repeats back to a real word) the MiniLM
tokenizer's vocabulary is used when installed; without it the rules fall back to plain heuristics.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from modpipe.text import words as _words
from modpipe.text.words import MENTION_OR_URL, known, unglue, unmask
from modpipe.text.words import vocab as _vocab

_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\u034f\u180e\u115f\u1160\u3164\uffa0]")
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
_SEPARATORS = " .-_*·•,/~"
_SPACED = re.compile(
    rf"(?<![\w{_LEET_CHARS}])[a-z{_LEET_CHARS}]([{re.escape(_SEPARATORS)}]{{1,3}})[a-z{_LEET_CHARS}]"
    rf"(?:\1[a-z{_LEET_CHARS}])+(?![\w{_LEET_CHARS}])"
)
_REPEAT = re.compile(r"([a-z])\1{2,}")
_OTHER_REPEAT = re.compile(r"([^a-z0-9\s])\1{3,}")

_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:(?:0x|\\x)?[0-9A-Fa-f]{2}[\s:,]?){6,}")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_ALPHA = re.compile(r"[a-z]{3,}")
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


def _to_ascii(text: str) -> str:
    text = text.translate(_fold_table())
    if text.isascii():
        return text
    # accents and stacked combining marks ("zalgo"): decompose and drop the marks
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _rejoin(match: re.Match[str]) -> str:
    run = match.group(0)
    chars = "".join(c for c in run if c not in _SEPARATORS)
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


# ---------------------------------------------------------------------------- hidden payloads


def _wordy(decoded: str) -> bool:
    """Mostly printable text made of words (not binary noise from a lucky decode)."""
    if len(decoded) < 4:
        return False
    printable = sum(c.isprintable() or c in "\n\t" for c in decoded)
    if printable < 0.95 * len(decoded):
        return False
    lettery = sum(c.isalpha() or c.isspace() for c in decoded)
    if lettery < 0.75 * len(decoded):
        return False
    words = _ALPHA.findall(decoded.lower())
    if not words:
        return False
    vocab = _vocab()
    return not vocab or sum(w in vocab for w in words) >= max(1, len(words) // 2)


def _b64(segment: str) -> str | None:
    s = segment.rstrip("=")
    if s.isalpha() and (s.islower() or s.isupper()):
        return None  # a plain long word, not base64
    s += "=" * (-len(s) % 4)
    try:
        raw = base64.urlsafe_b64decode(s) if ("-" in s or "_" in s) else base64.b64decode(s)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _hex(segment: str) -> str | None:
    digits = re.sub(r"0x|\\x|[\s:,]", "", segment)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return bytes.fromhex(digits).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


_ROT13 = str.maketrans(string.ascii_lowercase + string.ascii_uppercase,
                       string.ascii_lowercase[13:] + string.ascii_lowercase[:13]
                       + string.ascii_uppercase[13:] + string.ascii_uppercase[:13])
_LETTERS = re.compile(r"[A-Za-z]+")
_LETTERS2 = re.compile(r"[A-Za-z]{2,}")


def _rot13(word: str) -> str:
    return word.translate(_ROT13)


def _reverse(word: str) -> str:
    return word[::-1]


def _unknown_words(text: str) -> list[str]:
    """Words of 2+ letters that are not in the MiniLM vocabulary (none when it is missing)."""
    vocab = _vocab()
    return [w for w in _LETTERS2.findall(text) if w.lower() not in vocab] if vocab else []


def _flip_words(text: str, flip: Callable[[str], str], unknown: list[str]) -> str | None:
    """Rewrite the words that are gibberish but real words once flipped: rot13 ("xvyy" -> "kill")
    or spelt backwards ("llik" -> "kill"); None unless at least two words and half the `unknown`
    ones (`_unknown_words`) flip to real words."""
    if len(unknown) < 2:
        return None
    vocab = _vocab()
    flipped = {w for w in unknown if flip(w).lower() in vocab}
    if len(flipped) < 2 or sum(w in flipped for w in unknown) < 0.5 * len(unknown):
        return None  # counted per occurrence, as `unknown` is: a repeated code word counts each time
    # once the code is evident, every word from the first to the last gibberish one flips when
    # its flip is a word ("gb" -> "to"), and single letters too ("n" -> "a"), except "a" and "I"
    spans = list(_LETTERS.finditer(text))
    hits = [i for i, m in enumerate(spans) if m.group(0) in flipped]
    out, last = [], 0
    for i, m in enumerate(spans):
        w = m.group(0)
        inside = hits[0] <= i <= hits[-1]
        change = w in flipped or (inside and (flip(w).lower() in vocab
                                              or (len(w) == 1 and w not in "aAI")))
        out.append(text[last:m.start()])
        out.append(flip(w) if change else w)
        last = m.end()
    out.append(text[last:])
    return "".join(out)


# upside-down text ("ǝɯoɥ ʇɐ qɯoq ɐ ǝʞɐɯ"): each letter turned, the whole line read backwards
_TURNED = "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎz∀ᗺƆᗡƎℲ⅁HIſꓘ˥WNOԀΌᴚS⊥∩ΛMX⅄Z¡¿˙'"
_UPRIGHT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?.,"
_UPSIDE_DOWN = str.maketrans(_TURNED, _UPRIGHT)
_ONLY_TURNED = frozenset("ɐɔǝɟƃɥᴉɾʞɯɹʇʌʍʎ∀ƆƎℲ⅁˥Ԁ⊥∩Λ⅄")


def _upside_down(text: str) -> str | None:
    if text.isascii() or sum(c in _ONLY_TURNED for c in text) < 3:
        return None
    return text.translate(_UPSIDE_DOWN)[::-1]


def hidden_payloads(text: str) -> list[str]:
    """Decoded base64 / hex / %-escaped / rot13 / backwards / upside-down content in `text`."""
    found: list[str] = []
    for seg in _B64.findall(text):
        dec = _b64(seg)
        if dec and _wordy(dec):
            found.append(dec)
    for m in _HEX.finditer(text):
        dec = _hex(m.group(0))
        if dec and _wordy(dec):
            found.append(dec)
    if "%" in text and len(_PCT.findall(text)) >= 2:
        dec = unquote(text)
        if dec != text:
            found.append(dec)
    unknown = _unknown_words(text)
    rot = _flip_words(text, _rot13, unknown)
    if rot:
        found.append(rot)
    backwards = _flip_words(text, _reverse, unknown)
    if backwards:  # each word spelt backwards, or the whole text: read it both ways
        found += [backwards, text[::-1]]
    turned = _upside_down(text)
    if turned:
        found.append(turned)
    return found


def warm() -> None:
    """Load the word lists and wordninja's model now (~0.2 s), so that no prompt waits for them."""
    _fold_table()
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
        folded = fold_for_matching(base)
        if folded and folded != base.lower():
            variants.append(folded)
        repaired = fold_for_matching(MENTION_OR_URL.sub(" ", base))
        for v in (unglue(repaired), *unmask(repaired)):
            if v and v not in variants:
                variants.append(v)
        for payload in hidden_payloads(base):
            for v in (normalize_text(payload), fold_for_matching(payload)):
                if v and v.lower() not in {x.lower() for x in variants}:
                    variants.append(v)
        return variants[:_MAX_VARIANTS]
    except Exception:  # noqa: BLE001 - normalisation must never drop a prompt
        return [text if isinstance(text, str) else ""]
