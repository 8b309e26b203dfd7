"""Prompts in other languages, read in English.

The gate's encoder and every text it was trained on are English: a prompt in Spanish was flagged
whatever it said ("un gato durmiendo en el sofá" blocked as sexual). This module finds a
prompt's language and, where a translator is installed, puts it into English for the encoder:

- `looks_english(text)`: the cheap first test (most words are English words), so that an
  English prompt never pays for the rest;
- language identification with `lingua` (`lingua-language-detector`), over a fixed set of
  languages so that a short prompt is not read as a rare one;
- rule-based machine translation with Apertium (Debian packages, see the README's set-up):
  Spanish and Catalan → English directly; French, Portuguese, Italian and Romanian through
  Spanish. German and every other language have no translator here: a prompt clearly in one
  of them is at least review in every category the encoder feeds (`unread`; the policy's
  `languages` section); the encoder skips it, unless the text heads learned the language
  (Arabic), when their reading still ranks it and can block.

`read(texts)` returns one `Reading` per text (None for English). A reading `replaces` the
prompt as written for the encoder only when the language is clear and the translator knew most
words; otherwise the translation is one more variant and the prompt as written is still scored
(the worst counts). The lexicon and the name matcher always read the prompt as written.
A missing or failing translator never drops a prompt: it is scored as written, as without this
module. Each Apertium mode keeps running (`modpipe.text.apertium`): 1–4 ms a prompt.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from modpipe.policy.schema import Languages
from modpipe.text import apertium, words
from modpipe.types import Sample, ScorerStatus

log = logging.getLogger(__name__)

# Apertium modes from each language to English (Debian: apertium-eng-spa, -fr-es, -es-pt,
# -spa-ita, -eng-cat, -es-ro)
CHAINS: dict[str, tuple[str, ...]] = {
    "es": ("spa-eng",),
    "fr": ("fr-es", "spa-eng"),
    "pt": ("pt-es", "spa-eng"),
    "it": ("ita-spa", "spa-eng"),
    "ca": ("cat-eng",),
    "ro": ("ro-es", "spa-eng"),
}
# the languages told apart (ISO 639-1): English, the translated ones, and others a prompt is often
# written in, so that it is not taken for one of the first (lingua's high-accuracy models, ~400 MB)
LANGUAGES = ("en", "es", "fr", "pt", "it", "de", "nl", "ca", "ro", "pl", "tr", "id", "sv",
             "ar", "ru", "zh", "ja", "ko", "hi")
NON_LATIN = frozenset({"ar", "ru", "zh", "ja", "ko", "hi"})  # of LANGUAGES: written in another script
ENGLISH_SHARE = 0.8     # at least this share of words are English words: English, nothing to do
CONFIDENT = 0.5         # lingua's confidence in the language for the translation to replace the prompt
MAX_UNKNOWN = 0.4       # ... and at most this share of words unknown to the translator

_WORD = re.compile(r"[^\W\d_]+")
_MARKED = re.compile(r"(?<!\S)[*#@]+(?=\S)")


@dataclass(frozen=True)
class Reading:
    lang: str                # the prompt's language (ISO 639-1)
    confidence: float        # the language identifier's confidence in it
    text: str | None = None  # the English translation; None when no translator reads `lang`
    unknown: float = 0.0     # share of the translation's words the translator did not know
    may_replace: bool = True  # False: the translation is only ever added (settings.translate="add")

    @property
    def replaces(self) -> bool:
        """The encoder reads the translation instead of the prompt as written."""
        return (self.may_replace and self.text is not None and self.confidence >= CONFIDENT
                and self.unknown <= MAX_UNKNOWN)

    def added(self) -> Reading:
        return replace(self, may_replace=False)


def looks_english(text: str) -> bool:
    found = _WORD.findall(text.lower())
    if not found:
        return True
    english = sum(w in words.vocab() or w in words.dictionary_words() for w in found)
    return english >= ENGLISH_SHARE * len(found)


_build_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    with _build_lock:  # `warm` may be building it in a thread: build once, wait for it
        return _build_detector()


def _build_detector():
    if not has_detector():
        log.warning("lingua-language-detector is not installed: prompts in other languages are scored as written")
        return None
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, c.upper()) for c in LANGUAGES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models().build()


def has_detector() -> bool:
    return importlib.util.find_spec("lingua") is not None


def translatable() -> list[str]:
    """Languages this machine can translate to English."""
    return [lang for lang, chain in CHAINS.items() if set(chain) <= apertium.installed_modes()]


def model_id() -> str | None:
    """What reads other languages, for the decision's provenance (None: no language detector).
    Says once in the log what is missing, so a deployment without the Debian packages is not silent."""
    langs = translatable()
    missing = [lang for lang in CHAINS if lang not in langs]
    if not has_detector() or not langs or missing:
        _warn_missing(has_detector(), tuple(missing))
    if not has_detector():
        return None  # no language is told apart: every prompt is scored as written
    return (f"lingua-language-detector {importlib.metadata.version('lingua-language-detector')}"
            + (f" + apertium ({', '.join(langs)} → en)" if langs else " (no translator here)"))


@lru_cache(maxsize=8)
def _warn_missing(detector: bool, missing: tuple[str, ...]) -> None:
    if not detector:
        log.warning("lingua-language-detector is not installed: prompts and video text in other "
                    "languages are scored as written")
    elif missing:
        log.warning("no Apertium translation to English for %s here (make system-deps): such prompts go "
                    "to review (the policy's languages.unread); such video text is scored as written",
                    ", ".join(missing))


def warm() -> None:
    """Load the language models (~1 s, ~400 MB) and list the translators now, not on the first
    foreign prompt (the `Pipeline` calls it in a thread)."""
    apertium.installed_modes()
    _detector()


def detect(text: str) -> tuple[str, float] | None:
    """The text's language and lingua's confidence in it; None when it looks English."""
    detector = _detector()
    if detector is None or looks_english(text):
        return None
    values = detector.compute_language_confidence_values(text)
    if not values:
        return None
    best = values[0]
    lang = best.language.iso_code_639_1.name.lower()
    return None if lang == "en" else (lang, float(best.value))


_chains: dict[str, apertium.Chain] = {}  # mode → its running chain (spa-eng serves four languages)


def translate(texts: Sequence[str], lang: str) -> list[tuple[str, float]]:
    """English translations of `texts` (one language) with each one's share of unknown words.
    Raises `RuntimeError` when the translator fails; the caller scores the texts as written."""
    out = list(texts)
    for mode in CHAINS[lang]:  # the words one step does not know pass on marked, as `apertium` does
        chain = _chains.get(mode) or _chains.setdefault(mode, apertium.Chain(mode))  # one per mode
        out = chain.translate(out)
    readings = []
    for line in out:
        tokens = line.split()
        unknown = sum(t[0] in "*#@" for t in tokens) / len(tokens) if tokens else 1.0
        readings.append((" ".join(_MARKED.sub("", line).split()), unknown))
    return readings


def read(texts: Sequence[str]) -> list[Reading | None]:
    """One reading per text: None for English (or when no language model is installed); the
    language alone when it has no translator here or the translator failed; else the English."""
    found = [None if not isinstance(t, str) else detect(t) for t in texts]
    readings: list[Reading | None] = [Reading(*f) if f else None for f in found]
    can = set(translatable())
    for lang in {f[0] for f in found if f and f[0] in can}:
        idx = [i for i, f in enumerate(found) if f and f[0] == lang]
        try:
            english = translate([texts[i] for i in idx], lang)
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            log.error("translation %s -> en failed (%s); scored as written", lang, type(exc).__name__)
            continue
        for i, (text, unknown) in zip(idx, english, strict=True):
            if text:
                readings[i] = Reading(found[i][0], found[i][1], text, unknown)
    return readings


def unread(prompt: str, reading: Reading | None, policy: Languages, readable: frozenset[str],
           categories: Sequence[str]) -> ScorerStatus | None:
    """A prompt clearly in a language with no translation here, none of whose normalised variants
    is English either (a base64 or backwards payload, letters run together: the decoded or
    repaired text is read): the status that sends the `categories` the encoder feeds to the
    policy's `languages.unread` action (`decide`). In a language the text heads never learned
    (not in `readable`) the encoder skips the prompt (`variants(unread=True)`); in one they
    learned from their training texts alone (Arabic tweets) it still reads it, and the reading
    ranks the prompt, but it is not trusted to allow: it allowed an Arabic request to film a
    beheading. A prompt of emoji alone is unread too: the encoder reads it only through the
    emoji's names, which it misreads both ways ("thumbs up" as hate, "backpack bomb stadium
    collision" as harmless). None when the prompt is read in English."""
    from modpipe.text.normalize import emoji_only, normalize_prompt

    if policy.unread != "as_written" and categories and emoji_only(prompt):
        return ScorerStatus(scorer="language", status="unread", categories=list(categories), message=(
            "prompt of emoji alone: the encoder has no emoji and read only their names, which it "
            "misreads; that reading is not trusted to allow"))
    if (reading is None or reading.text is not None or policy.unread == "as_written"
            or reading.confidence < policy.confident or not categories
            or (reading.lang in readable and reading.lang in policy.trusted)
            or (reading.lang in NON_LATIN and _latin_share(prompt) > 0.5)  # mojibake in an English jailbreak
            or any(looks_english(v) for v in normalize_prompt(prompt))):
        return None
    how = ("the text heads learned it only from their training texts; their reading is not trusted to allow"
           if reading.lang in readable else "the text heads never learned it; the encoder did not read it")
    return ScorerStatus(scorer="language", status="unread", categories=list(categories), message=(
        f"prompt in {reading.lang} (language confidence {reading.confidence:.2f}): no translation to English "
        f"(no translator for it here, or it failed) and {how}"))


def skipped(reading: Reading | None, unread: bool, readable: frozenset[str]) -> bool:
    """Whether the encoder skips an `unread` prompt: one in a language the text heads never learned.
    (A prompt of emoji alone has no language: the encoder reads it through the emoji's names.)"""
    return unread and reading is not None and reading.lang not in readable


def _latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(unicodedata.name(c, "").startswith("LATIN") for c in letters) / len(letters) if letters else 0.0


def variants(prompt: str, reading: Reading | None, unread: bool = False,
             plain: Callable[[str], str | None] | None = None) -> list[tuple[str, dict]]:
    """What the gate scores for a prompt: its normalised variants (`normalize_prompt`), then the
    translation's, then any of them with coded words in `plain` words (`words.Euphemisms`, meta
    `euphemism`); each with its sample meta. When the translation replaces the prompt, or the
    prompt is `unread` (above), the variants as written carry `as_written` (the encoder skips
    them; lexicon and names read them)."""
    from modpipe.text.normalize import normalize_prompt

    out = [(v, {"variant": i}) for i, v in enumerate(normalize_prompt(prompt))]
    if reading is not None and (unread or (reading.text is not None and reading.replaces)):
        for _, meta in out:
            meta["as_written"] = reading.lang
    if reading is not None and reading.text is not None:
        out += [(v, {"variant": len(out) + k, "translated_from": reading.lang})
                for k, v in enumerate(normalize_prompt(reading.text))]
    if plain is not None:
        seen = {v.lower() for v, _ in out}
        for v, meta in list(out):
            p = plain(v)
            if p and p.lower() not in seen:
                seen.add(p.lower())
                out.append((p, {**meta, "variant": len(out), "euphemism": True}))
    return out


def reason(reading: Reading | None, unread: bool = False) -> str | None:
    """The decision's line on how a prompt in another language was read (None: English)."""
    if reading is None:
        return None
    lang = f"prompt in {reading.lang} (language confidence {reading.confidence:.2f})"
    if reading.text is None:
        how = "sent to `languages.unread` (the `language` status says why)" if unread else "scored as written"
        return f"{lang}: not translated (no translator for it here, or it failed), {how}"
    how = (f"read through a machine translation to English, {reading.unknown:.0%} of its words unknown "
           "to the translator")
    return f"{lang}: {how}" if reading.replaces else f"{lang}: scored as written and {how}; the worst counts"


def text_variants(samples: Sequence[Sample], readings: Sequence[Reading | None], first_index: int,
                  ) -> list[Sample]:
    """A video's text samples (on-screen text, speech) with those in another language read as a
    prompt is: the English translation is one more sample at the same time (`translated_from`,
    indices from `first_index`). The sample as read gets back the line as OCR read it
    (`meta["as_read"]`): its English re-segmentation cuts foreign words into English fragments
    ("CUMPLEANOS" → "CUM PLEA NOS"). When the translation replaces the words as read, that sample
    also carries `as_written` (the encoder skips it; the other scorers read it)."""
    out, added = [], []
    for s, r in zip(samples, readings, strict=True):
        if r is None or r.text is None:
            out.append(s)
            continue
        meta = {k: v for k, v in s.meta.items() if k != "as_read"}
        added.append(replace(s, index=first_index + len(added), text=r.text, meta={**meta, "translated_from": r.lang}))
        s = replace(s, text=s.meta.get("as_read", s.text),
                    meta={**s.meta, "as_written": r.lang} if r.replaces else s.meta)
        out.append(s)
    return out + added


def text_reason(samples: Sequence[Sample]) -> str | None:
    """A scan's line on the text it read through a translation (None: none)."""
    counts: dict[tuple[str, str], int] = {}
    for s in samples:
        if "translated_from" in s.meta:
            key = (s.modality.value, s.meta["translated_from"])
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return None
    what = ", ".join(f"{'on-screen text' if m == 'ocr' else m} in {lang} ({n})" for (m, lang), n in sorted(counts.items()))
    return f"{what}: also read through a machine translation to English"
