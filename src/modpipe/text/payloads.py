"""Hidden payloads in a prompt, decoded (part of the gate's normalisation, `normalize_prompt`).

`hidden_payloads(text, raw)` returns the texts hidden in a prompt, each one more variant for the
gate to score (the worst counts):

- encodings: base64, hex, %-escapes, HTML character references ("&#107;&#105;&#108;&#108;"),
  binary bytes ("01101011 01101001 …"), Morse code (".-- .- -.-");
- invisible characters that carry text ("ASCII smuggling"): Unicode tag characters
  (U+E0020–E007E, one per ASCII character, shown as nothing after a harmless cover sentence) and
  variation selectors carrying bytes (U+FE00–FE0F, U+E0100–E01EF, hidden behind one emoji);
- letter ciphers on words: rot13, any other Caesar shift and Atbash ("xvyy" → "kill"), Pig Latin
  ("akednay" → "naked"), words spelt backwards, upside-down text ("ǝɯoɥ ʇɐ qɯoq" → "bomb at home").

A decoder only answers when what it decodes reads as English words (`_wordy`, `_flip_words`),
so an ordinary prompt gains no variant; binary and tag characters, which no ordinary prompt
holds by chance, only need to decode to printable text (`_printable`; a flag emoji's tags,
"gbsct", are too short to count). Never raises on any `str`; microseconds for an ordinary prompt.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import string
from collections.abc import Callable
from urllib.parse import unquote

from modpipe.text import words as _words
from modpipe.text.words import vocab as _vocab

_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:(?:0x|\\x)?[0-9A-Fa-f]{2}[\s:,]?){6,}")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_HTML_REF = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});")
_BINARY = re.compile(r"(?<![01])(?:[01]{8}[\s,]*){3,}")
_MORSE_MARK = ".-·•−–—_"
_MORSE_RUN = re.compile(r"(?:[.\-·•−–—_]{1,7}(?:[ \t]+|[ \t]*[/|][ \t]*)){3,}[.\-·•−–—_]{1,7}")
_MORSE = dict(zip(
    (".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- ...- .-- -..- "
     "-.-- --.. ----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----. .-.-.- --..-- ..--.. -.-.--").split(),
    string.ascii_lowercase + "0123456789.,?!", strict=True))
_TAGS = re.compile("[\U000e0020-\U000e007e]{3,}")
_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]{4,}")
_ALPHA = re.compile(r"[a-z]{3,}")


def _printable(decoded: str, short: bool = False) -> bool:
    """Text, not noise: an encoding that no ordinary prompt uses by chance (binary bytes, invisible
    characters) needs no more than this, so a garbled jailbreak hidden that way is read too; at
    least 8 characters or a space unless `short` (tag characters, a subdivision flag's aside)."""
    return ((short or len(decoded) >= 8 or " " in decoded)
            and sum(c.isprintable() for c in decoded) >= 0.95 * len(decoded))


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


# ---------------------------------------------------------------------------- encodings


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


def _binary(segment: str) -> str | None:
    try:
        return bytes(int(b, 2) for b in re.findall(r"[01]{8}", segment)).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _html(text: str) -> str | None:
    """The text with its character references resolved, when 3+ of them stand for letters or
    digits (references for quotes and emoji, as in scraped tweets, do not count)."""
    refs = _HTML_REF.findall(text)
    if sum(html.unescape(r).isalnum() for r in refs) < 3:
        return None
    return html.unescape(text)


def _morse(run: str) -> str:
    """Words split by "/" or "|" (or 2+ spaces), letters by a space; unknown codes dropped."""
    run = run.translate(str.maketrans("·•−–—_", "..----"))
    words = re.split(r"\s*[/|]\s*|\s{2,}", run.strip())
    return " ".join("".join(_MORSE.get(code, "") for code in w.split()) for w in words)


def _smuggled(text: str) -> list[str]:
    """Text carried by invisible characters: tag characters (one per ASCII character) and runs
    of variation selectors, one per byte (U+FE00+b for b < 16, U+E0100+b-16 above)."""
    # a subdivision flag is a black flag, its region's tags ("gbsct") and a cancel tag: not a message;
    # any other run is one, however short ("nude" hidden after a harmless prompt)
    found = [m.group(0).translate({c: c - 0xE0000 for c in range(0xE0020, 0xE007F)}) for m in _TAGS.finditer(text)
             if text[m.start() - 1:m.start()] != "\U0001f3f4"]
    found = [f for f in found if _printable(f, short=True)]
    for m in _SELECTORS.finditer(text):
        raw = bytes(ord(c) - 0xFE00 if ord(c) < 0x10000 else ord(c) - 0xE0100 + 16 for c in m.group(0))
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _printable(decoded):
            found.append(decoded)
    return found


# ---------------------------------------------------------------------------- letter ciphers


def _shift(k: int) -> dict[int, int]:
    lower, upper = string.ascii_lowercase, string.ascii_uppercase
    return str.maketrans(lower + upper, lower[k:] + lower[:k] + upper[k:] + upper[:k])


_CIPHERS: list[dict[int, int]] = [_shift(k) for k in range(1, 26)] + [str.maketrans(
    string.ascii_lowercase + string.ascii_uppercase, string.ascii_lowercase[::-1] + string.ascii_uppercase[::-1])]
_ROT13 = _CIPHERS[12]
_LETTERS = re.compile(r"[A-Za-z]+")
_LETTERS2 = re.compile(r"[A-Za-z]{2,}")
_LETTERS3 = re.compile(r"[A-Za-z]{3,}")


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


def _cipher(text: str, unknown: list[str]) -> str | None:
    """rot13 words; or, in a text whose words of 3+ letters are nearly all unknown (4 at least),
    the Caesar shift or Atbash that turns 80 % of them into words: with 26 tries a looser rule
    read Portuguese ("leve" → "hara")."""
    rot = _flip_words(text, lambda w: w.translate(_ROT13), unknown)
    if rot:
        return rot
    long = [w for w in unknown if len(w) >= 3]
    if len(long) < 4 or len(long) < 0.8 * len(_LETTERS3.findall(text)):
        return None
    vocab = _vocab()
    hits, best = max((sum(w.translate(t).lower() in vocab for w in long), i) for i, t in enumerate(_CIPHERS))
    if hits < 0.8 * len(long):
        return None
    return _flip_words(text, lambda w: w.translate(_CIPHERS[best]), unknown)


def _unpig(word: str) -> str:
    """A Pig Latin word read back ("akednay" → "naked", "otay" → "to", "onway" → "on"): the
    letters before "ay" with up to three moved back to the front, or a vowel word's "w"/"y"
    dropped; of the readings that are words, the most frequent (wordninja's word costs); the
    word itself when none is."""
    low = word.lower()
    if len(low) < 4 or not low.endswith("ay"):
        return word
    core, vocab, cost = low[:-2], _vocab(), _words._word_cost()
    readings = [core[-k:] + core[:-k] for k in range(1, 4)] + [core[:-1]] * (core[-1] in "wy") + [core]
    found = [r for r in readings if r in vocab or r in ("a", "i")]
    return min(found, key=lambda r: cost.get(r, 99.0)) if found else word


# upside-down text ("ǝɯoɥ ʇɐ qɯoq ɐ ǝʞɐɯ"): each letter turned, the whole line read backwards
_TURNED = "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎz∀ᗺƆᗡƎℲ⅁HIſꓘ˥WNOԀΌᴚS⊥∩ΛMX⅄Z¡¿˙'"
_UPRIGHT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?.,"
_UPSIDE_DOWN = str.maketrans(_TURNED, _UPRIGHT)
_ONLY_TURNED = frozenset("ɐɔǝɟƃɥᴉɾʞɯɹʇʌʍʎ∀ƆƎℲ⅁˥Ԁ⊥∩Λ⅄")


def _upside_down(text: str) -> str | None:
    if text.isascii() or sum(c in _ONLY_TURNED for c in text) < 3:
        return None
    return text.translate(_UPSIDE_DOWN)[::-1]


def hidden_payloads(text: str, raw: str | None = None) -> list[str]:
    """Decoded content hidden in `text` (the normalised prompt); invisible characters are read
    from `raw`, the prompt as received, since normalising drops them."""
    raw = text if raw is None else raw
    found: list[str] = [] if raw.isascii() else _smuggled(raw)
    for seg in _B64.findall(text):
        dec = _b64(seg)
        if dec and _wordy(dec):
            found.append(dec)
    for m in _HEX.finditer(text):
        dec = _hex(m.group(0))
        if dec and _wordy(dec):
            found.append(dec)
    for m in _BINARY.finditer(text) if text.count("0") + text.count("1") >= 24 else ():
        dec = _binary(m.group(0))
        if dec and _printable(dec):
            found.append(dec)
    if "%" in text and len(_PCT.findall(text)) >= 2:
        dec = unquote(text)
        if dec != text:
            found.append(dec)
    if "&" in text and ";" in text:
        dec = _html(text)
        if dec:
            found.append(dec)
    marks = sum(map(text.count, ".-")) + (0 if text.isascii() else sum(map(text.count, _MORSE_MARK[2:])))
    for m in _MORSE_RUN.finditer(text) if marks >= 6 else ():
        dec = _morse(m.group(0))
        if _wordy(dec):
            found.append(dec)
    unknown = _unknown_words(text)
    cipher = _cipher(text, unknown)
    if cipher:
        found.append(cipher)
    pig = _flip_words(text, _unpig, unknown)
    if pig:
        found.append(pig)
    backwards = _flip_words(text, lambda w: w[::-1], unknown)
    if backwards:  # each word spelt backwards, or the whole text: read it both ways
        found += [backwards, text[::-1]]
    turned = _upside_down(text)
    if turned:
        found.append(turned)
    return found
