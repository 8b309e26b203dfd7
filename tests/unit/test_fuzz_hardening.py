"""Property-based fuzzing of the two parsers every request and every deployment goes through:
the prompt normaliser and the policy loader. Whatever comes in, they answer in their contract —
a list of variants, or a LoadedPolicy / PolicyError — and never raise anything else.
"""

from __future__ import annotations

import yaml
from hypothesis import example, given, settings, strategies as st

from modpipe.assets import default_policy_path
from modpipe.errors import PolicyError
from modpipe.policy import LoadedPolicy, parse_policy
from modpipe.text.normalize import normalize_prompt

# NFKC may expand one character into up to 18 (U+FDFA); decoders add a few variants at most.
MAX_EXPANSION = 18
MAX_VARIANTS = 16

nasty_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), max_size=300
) | st.sampled_from([
    "", " ", "\u200b" * 50, "\ufdfa" * 20, "\x00\x01\x7f", "a\u0301" * 30, "\U0001F600" * 10,
    "\ud800", "aGVsbG8gd29ybGQ=", "%41%42", "&#x41;", "ｆｕｌｌ ｗｉｄｔｈ", "k\u200by\u200bs",
])


@settings(max_examples=400, deadline=None)
@given(text=nasty_text)
@example("x" * 20_000)
def test_normalize_prompt_never_raises_and_returns_bounded_variants(text):
    variants = normalize_prompt(text)
    assert isinstance(variants, list) and variants
    assert all(isinstance(v, str) for v in variants)
    assert len(variants) <= MAX_VARIANTS
    assert all(len(v) <= MAX_EXPANSION * len(text) + 64 for v in variants)


# ------------------------------------------------------------------ the policy loader

DEFAULT = yaml.safe_load(default_policy_path().read_text())

yaml_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.just(float("nan")) | st.text(max_size=12)
yaml_docs = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["version", "name", "scorers", "categories", "signals", "type", "params",
                         "review_at", "block_at", "audiences", "labels", "terms"]) | st.text(max_size=8),
        inner, max_size=5),
    max_leaves=20,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(DEFAULT) if p]


@st.composite
def mutated_policies(draw):
    """The shipped policy with a few values replaced, deleted or given a wrong type."""
    import copy

    doc = copy.deepcopy(DEFAULT)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()):
                parent[path[-1]] = draw(yaml_docs)
            elif isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    return yaml.safe_dump(doc)


def _loads_or_policy_error(text: str) -> None:
    try:
        assert isinstance(parse_policy(text, source="fuzz.yaml"), LoadedPolicy)
    except PolicyError as exc:
        assert str(exc).startswith("fuzz.yaml")  # the error names the file


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200) | yaml_docs.map(yaml.safe_dump))
@example(": : :")
@example("a: &x [*x]")
@example("- - - - -")
@example("version: 1\nname: x\n" + "categories: {" * 50)
@example("!!python/object:os.system ls")
def test_random_documents_load_or_raise_policy_error(text):
    _loads_or_policy_error(text)


@settings(max_examples=40, deadline=None)  # each parses the whole shipped policy
@given(text=mutated_policies())
def test_mutations_of_the_shipped_policy_load_or_raise_policy_error(text):
    _loads_or_policy_error(text)
