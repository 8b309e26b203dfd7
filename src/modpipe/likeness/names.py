"""Find public-figure names and aliases in prompts, transcripts and OCR text.

Works for any names a user imports; nothing is tuned per name.

1. Text is folded (`fold_for_matching`: NFKC, homoglyphs → ASCII, zero-width characters
   removed, leetspeak mapped, spaced-out letters rejoined, lowercase) and split into tokens.
2. Every name variant (the display name, its aliases, and first+last of names with middle
   parts) becomes one *key*: its tokens joined without spaces, doubled letters squeezed
   ("Jennifer Aniston" → "jenifaniston"). Text windows of 1…k consecutive tokens are joined the
   same way, so "tay lor swift", "TaylorSwift" and "t a y l o r s w i f t" all give one key.
3. Exact keys are a dict lookup; near-misspellings use a SymSpell deletion index on the
   first 7 letters (edit distance ≤ 1 for keys of 8–11 letters, ≤ 2 from 12), verified in
   full with rapidfuzz's OSA distance (a swap of two letters is one edit). Cost is
   O(prompt tokens × window × deletions of a 7-letter prefix), independent of gallery size.
   A misspelt multi-word window must line up with the name word by word (short words exact).
4. False-positive guards: short keys (< 8 letters) match exactly only; a single-token variant
   (a mononym or one-word alias) is used only when it is *distinctive*: 5+ letters, not an
   English dictionary word (Webster's 2nd + GCIDE, which include given names) and not the first
   name of anyone else in the gallery. A first or last name alone is never a match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from modpipe.text.normalize import fold_for_matching
from modpipe.text.words import dictionary_words

_TOKEN = re.compile(r"[a-z0-9]+")
_SQUEEZE = re.compile(r"(.)\1+")
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "phd", "md"}
MAX_WINDOW = 6  # text tokens joined into one candidate key
PREFIX = 7  # SymSpell prefix: deletions are indexed on the first 7 letters, verified in full


@lru_cache(maxsize=1 << 16)  # the same words come back prompt after prompt
def squeeze(s: str) -> str:
    return _SQUEEZE.sub(r"\1", s)


def max_distance(n: int) -> int:
    """Edits allowed for a key of n letters (after squeezing)."""
    return 0 if n < 8 else 1 if n < 12 else 2


def _deletes(key: str, d: int) -> set[str]:
    out, frontier = {key}, {key}
    for _ in range(d):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


@dataclass(frozen=True)
class Variant:
    person_id: str
    name: str  # the person's display name
    kind: str
    variant: str  # the spelling that matched (display name or alias)
    tokens: tuple[str, ...]  # its folded, squeezed tokens


@dataclass(frozen=True)
class NameMatch:
    person_id: str
    name: str
    kind: str
    variant: str
    matched: str  # the folded text that matched
    span: tuple[int, int]  # character span in the folded text
    distance: int  # edit distance (0 = exact after folding)


class NameMatcher:
    """Index of name keys; `find(text)` returns the best match per person, in text order."""

    def __init__(self, people: Iterable[tuple[str, str, str, Iterable[str]]]) -> None:
        """`people`: (person_id, display name, kind, aliases) tuples."""
        from rapidfuzz.distance import OSA

        self._osa = OSA.distance
        self.exact: dict[str, list[Variant]] = {}
        self.fuzzy: dict[str, set[str]] = {}
        people = list(people)
        first_names: dict[str, set[str]] = {}  # first token of multi-token names → who has it
        for pid, name, _, aliases in people:
            for v in (name, *aliases):
                if len(t := _TOKEN.findall(fold_for_matching(v))) > 1:
                    first_names.setdefault(squeeze(t[0]), set()).add(pid)
        self._cache: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.max_len = 0  # longest key + its allowed edits: longer windows cannot match
        self.skipped: list[str] = []  # single-token variants judged not distinctive
        for pid, name, kind, aliases in people:
            for v in dict.fromkeys((name, *aliases)):  # in order (a set would vary per process)
                for toks in self._variant_tokens(v):
                    key = squeeze("".join(toks))
                    if len(toks) == 1 and not self._distinctive(key, first_names.get(key, set()) - {pid}):
                        self.skipped.append(v)
                        continue
                    self._add(key, Variant(pid, name, kind, v, tuple(squeeze(t) for t in toks)))
        self.n_keys = len(self.exact)
        # a misspelt multi-word window lines up with a name word by word, and a word of ≤ 3
        # letters can only line up exactly (`_fuzzy_ok`): one that is no name's word rules the
        # window (and every longer one from the same start) out of the fuzzy search
        self.name_words = frozenset(t for vs in self.exact.values() for v in vs for t in v.tokens)
        # once a window can only match exactly, it must stay a prefix of some key to grow into one
        self.prefixes = frozenset(k[:n] for k in self.exact for n in range(1, len(k) + 1))

    @staticmethod
    def _variant_tokens(v: str) -> list[list[str]]:
        toks = _TOKEN.findall(fold_for_matching(v))
        while len(toks) > 1 and (toks[-1] in _SUFFIXES or len(toks[-1]) == 1):  # Jr., III (folded "i")
            toks.pop()
        out = [toks] if toks else []
        words = [t for t in toks if len(t) > 1]
        if len(words) >= 2 and words != toks or len(words) > 2:  # "John F. Kennedy" → "John Kennedy"
            out.append([words[0], words[-1]])
        return out

    @staticmethod
    def _distinctive(key: str, others_first_name: set[str]) -> bool:
        return len(key) >= 5 and not others_first_name and key not in dictionary_words()

    def _add(self, key: str, v: Variant) -> None:
        entries = self.exact.setdefault(key, [])
        if all(e.person_id != v.person_id for e in entries):
            entries.append(v)
        # near-misspellings only for variants made of real words (no initials, no "un" in Kim Jong Un)
        d = max_distance(len(key)) if all(len(t) >= 3 for t in v.tokens) else 0
        self.max_len = max(self.max_len, len(key) + d)
        for dk in _deletes(key[:PREFIX], d) if d else ():
            self.fuzzy.setdefault(dk, set()).add(key)

    def _fuzzy_ok(self, words: list[str], tokens: tuple[str, ...]) -> bool:
        """A misspelt window must line up with the name word by word (each word within its own
        edit budget: < 5 letters exact, 5–7 one edit, 8+ two), unless it is one run-together
        token ("taylorswfit"). Stops "to thanks" ≈ "Tom Hanks", "a new house" ≈ "Dan Newhouse"."""
        if len(words) == 1:
            return True
        return len(words) == len(tokens) and all(
            self._osa(w, t, score_cutoff=lim) <= lim
            for w, t in zip(words, tokens, strict=True)
            for lim in (0 if len(t) < 5 else 1 if len(t) < 8 else 2,))

    def _candidates(self, prefix: str, d: int) -> list[tuple[str, int]]:
        """Keys whose 7-letter prefix is within d deletions of `prefix` (cached: consecutive
        windows from one start token share their prefix)."""
        hit = self._cache.get((prefix, d))
        if hit is None:
            keys = {k for dk in _deletes(prefix, d) for k in self.fuzzy.get(dk, ())}
            # sorted: ties between keys resolve alike in every process (set order follows the hash seed)
            hit = [(k, max_distance(len(k))) for k in sorted(keys)]
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[(prefix, d)] = hit
        return hit

    def _lookup(self, cand: str, fuzzy: bool = True) -> tuple[str, int] | None:
        if cand in self.exact:
            return cand, 0
        d = max_distance(len(cand) + 1)  # a deletion may have shortened a valid key
        if not d or not fuzzy:
            return None
        best: tuple[str, int] | None = None
        for key, lim in self._candidates(cand[:PREFIX], d):
            if abs(len(key) - len(cand)) <= lim:
                dist = self._osa(cand, key, score_cutoff=lim)
                if dist <= lim and (best is None or dist < best[1]):
                    best = (key, dist)
        return best

    def find(self, text: str) -> list[NameMatch]:
        folded = fold_for_matching(text)
        toks = [(squeeze(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(folded)]
        best: dict[str, NameMatch] = {}
        for i in range(len(toks)):
            cand = ""
            fuzzy = True
            for j in range(i, min(len(toks), i + MAX_WINDOW)):
                t = toks[j][0]
                cand += t[1:] if cand and cand[-1] == t[0] else t  # squeezed across the joint
                if len(cand) > self.max_len:
                    break
                fuzzy = fuzzy and (len(t) > 3 or t in self.name_words)
                if not fuzzy and j > i and cand not in self.prefixes:
                    break
                hit = self._lookup(cand, fuzzy or j == i)
                if hit is None:
                    continue
                key, dist = hit
                span = (toks[i][1], toks[j][2])
                words = [t[0] for t in toks[i:j + 1]]
                for v in self.exact[key]:
                    if len(v.tokens) == 1 and (dist or j > i):  # mononyms: one whole token, exact
                        continue
                    if dist and not self._fuzzy_ok(words, v.tokens):
                        continue
                    m = NameMatch(v.person_id, v.name, v.kind, v.variant, folded[span[0]:span[1]], span, dist)
                    old = best.get(v.person_id)
                    if old is None or (m.distance, m.span[1] - m.span[0]) < (old.distance, old.span[1] - old.span[0]):
                        best[v.person_id] = m
        return sorted(best.values(), key=lambda m: m.span)
