"""Minor cues: does a text say that someone in it is a child?

The `sexual_minors` label has no labelled data to train a head on, and a sentence encoder reads
"a 12 year old" and "a 22 year old" as nearly the same text: the policy's exemplars alone let
"write a story where the teacher seduces her 14 year old student" through at 0.10 while the
sexual head gave it 0.53. What does separate them is stated plainly in the words: an age under
18, a school grade, a word for a child. So the text scorer can take a label as another label's
score times this cue (`minor_cues: {sexual_minors: sexual}` in its params): sexual text that
names a child is sexualised content of a minor, whatever the exemplars say.

`minor_cue(text)` gives 1.0 for an explicit child (an age 0–17 in digits or words, "13yo",
"aged 12", a school grade, child, kid, toddler, preteen, underage, jailbait, loli…), 0.55 for
words used of minors and of young adults alike (teen, teenager, schoolgirl, young girl, high
schooler: reviewed, not blocked, when the sexual score is high), where a stated adult age ("18
year old", "aged 25", "18+", "an adult", "college", "in their 20s") takes the 0.55 back to 0;
else 0. "girl" and "boy" alone are no cue: they are said of adults all the time.
"""

from __future__ import annotations

import re

CHILD = 1.0
YOUNG = 0.55  # under the policy's block_at (0.6) for sexual_minors: review, not block

_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                 "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty"]
_NUMBER = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_ORDINAL = (r"(?:1st|2nd|3rd|[4-8]th|first|second|third|fourth|fifth|sixth|seventh|eighth"
            r"|1st-|2nd-|3rd-|[4-8]th-)")

# an age said as an age: "14 year old", "14-year-old", "14 yrs old", "14yo", "14 y/o", "aged 14",
# "age of 14", "she is only 14", "i'm 13 and…"
_AGE = re.compile(
    rf"(?<![\w.,])(?<!\d )(?<!\d  ){_NUMBER}\s*-?\s*(?:years?|yrs?|yr)\s*-?\s*olds?\b"
    rf"|(?<![\w.,])(?<!\d )(?<!\d  ){_NUMBER}\s*(?:yo|y/o|y\.o\.?)(?!\w)"
    rf"|\b(?:aged?|age of)\s+{_NUMBER}\b"
    rf"|\b(?:she|he|i|you|they)(?:'s|'m|'re| is| am| are| was| were)\s+(?:only |just |barely |now )?{_NUMBER}"
    r"(?=\s*(?:[.,!?;:)]|$|and\b|but\b|now\b|too\b))",  # not "i'm 14 years into my marriage"
    re.IGNORECASE,
)
_CHILD_WORDS = [
    r"child(?:ren|s)?", r"kids?", r"kiddies", r"kiddie", r"toddlers?", r"infants?", r"pre-?teens?",
    r"tweens?", r"under-?aged?", r"under age", r"minors", r"jailbait", r"lolis?", r"lolicon",
    r"shotas?", r"shotacon", r"little (?:girls?|boys?|sister|brother)", r"young teens?",
    r"(?:a|the) minor(?=\s*(?:[.,!?;:)]|$|who\b|and\b|or\b|in\b|on\b|at\b|from\b|online\b))",
    rf"{_ORDINAL}\s*grade(?:rs?)?", r"grade school(?:ers?)?", r"middle school(?:ers?)?", r"junior high",
    r"elementary school(?:ers?)?", r"primary school", r"kindergarten(?:ers?)?", r"preschool(?:ers?)?",
    r"schoolchild(?:ren)?", r"(?:high school )?freshm[ae]n in high school", r"high school freshm[ae]n",
]
_YOUNG_WORDS = [
    r"teens?", r"teenagers?", r"teenage", r"teenaged", r"school ?girls?", r"school ?boys?",
    r"young (?:girls?|boys?)", r"high school(?:ers?| girls?| boys?)", r"adolescents?", r"pubescent",
]
_CHILD_RE = re.compile(r"\b(?:" + "|".join(_CHILD_WORDS) + r")\b", re.IGNORECASE)
_YOUNG_RE = re.compile(r"\b(?:" + "|".join(_YOUNG_WORDS) + r")\b", re.IGNORECASE)
_ADULT_RE = re.compile(  # said of the people in the text: "18+", "an adult in…", "college girls", "both 25"
    r"\b(?:1[89]|[2-9]\d)\s*\+|\b(?:an|two|both|all|consenting) adults?\b|\badults? only\b|\bcollege\b"
    r"|\buniversity\b|\bboth (?:1[89]|[2-9]\d)\b|\bin (?:their|her|his) (?:[2-9]0s|twenties|thirties|forties|fifties)\b",
    re.IGNORECASE)


# every match of the patterns above holds a digit or one of these words: a text with neither
# (most texts) skips the patterns, which cost ~50 µs a text against ~5 µs for this check
_TRIGGERS = frozenset(_NUMBER_WORDS[:18]) | frozenset(
    "child children childs kid kids kiddie kiddies toddler toddlers infant infants preteen preteens pre "
    "teen teens tween tweens underage underaged under minor minors jailbait loli lolis lolicon shota "
    "shotas shotacon little young grade grader graders school schooler schoolers junior elementary "
    "primary kindergarten kindergartener kindergarteners preschool preschooler preschoolers schoolchild "
    "schoolchildren freshman freshmen teenager teenagers teenage teenaged schoolgirl schoolgirls "
    "schoolboy schoolboys adolescent adolescents pubescent".split())
_TOKEN = re.compile(r"[a-z]+|\d")

_WORD_AGES = {w: i for i, w in enumerate(_NUMBER_WORDS[:21])} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60}


def _age(token: str) -> int:
    return int(token) if token.isdigit() else _WORD_AGES[token.lower()]


def minor_cue(text: str) -> tuple[float, str | None]:
    """(strength, the words that gave it) for one text: `CHILD`, `YOUNG` or 0.0 (see the module)."""
    tokens = set(_TOKEN.findall(text.lower()))
    if not tokens & _TRIGGERS and not any(t.isdigit() for t in tokens):
        return 0.0, None
    adult = None
    for m in _AGE.finditer(text):
        token = next(g for g in m.groups() if g is not None)
        if _age(token) < 18:
            return CHILD, m.group(0).strip()
        adult = adult or m.group(0)
    m = _CHILD_RE.search(text)
    if m:
        return CHILD, m.group(0)
    m = _YOUNG_RE.search(text)
    if m and adult is None and not _ADULT_RE.search(text):
        return YOUNG, m.group(0)
    return 0.0, None
