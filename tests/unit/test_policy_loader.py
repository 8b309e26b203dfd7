"""The policy loader validates once, loudly: every error names the file, line or field path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from modpipe.errors import PolicyError
from modpipe.policy import load_policy, parse_policy

GOOD = textwrap.dedent("""
    version: 1
    name: tiny
    audiences: [teen]
    scorers:
      words:
        type: lexicon
        params:
          terms: {terrorism: [join isis]}
    categories:
      terrorism:
        signals: [{scorer: words, label: terrorism}]
        review_at: 0.5
        block_at: 0.8
        audiences:
          teen: {review_at: 0.3, block_at: 0.6}
""")


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as exc:
        parse_policy(text, source="p.yaml")
    return str(exc.value)


def test_a_valid_policy_loads_with_a_content_hash():
    lp = parse_policy(GOOD)
    assert lp.name == "tiny"
    assert lp.hash.startswith("sha256:") and len(lp.hash) == 7 + 64
    assert lp.policy.categories["terrorism"].thresholds("teen").block_at == 0.6
    assert lp.policy.categories["terrorism"].thresholds(None).block_at == 0.8


def test_the_hash_ignores_formatting_but_not_meaning():
    reformatted = GOOD.replace("review_at: 0.5\n    block_at: 0.8", "block_at: 0.80\n    review_at: 0.50")
    assert parse_policy(reformatted).hash == parse_policy(GOOD).hash
    assert parse_policy(GOOD.replace("block_at: 0.8", "block_at: 0.85")).hash != parse_policy(GOOD).hash


def test_the_shipped_default_policy_is_valid():
    lp = load_policy()
    assert {"sexual", "sexual_minors", "terrorism", "self_harm", "public_figure",
            "violence_gore", "hate"} <= set(lp.policy.categories)
    assert "teen" in lp.policy.audiences


def test_bad_yaml_names_file_and_line():
    msg = error_of(GOOD.replace("name: tiny", "name: [tiny"))
    assert msg.startswith("p.yaml:line ") and "invalid YAML" in msg


def test_unknown_key_names_the_field_path_and_line():
    msg = error_of(GOOD.replace("    review_at: 0.5", "    reveiw_at: 0.5\n    review_at: 0.5"))
    assert "categories.terrorism.reveiw_at" in msg and "unknown key 'reveiw_at'" in msg
    assert "line 13" in msg  # GOOD begins with a blank line


def test_undeclared_scorer_is_rejected_with_its_path():
    msg = error_of(GOOD.replace("{scorer: words,", "{scorer: clip,"))
    assert "categories.terrorism.signals[0].scorer" in msg
    assert "undeclared scorer 'clip'" in msg and "declared: words" in msg


def test_label_the_scorer_does_not_emit_is_rejected():
    msg = error_of(GOOD.replace("label: terrorism}", "label: sexual}"))
    assert "has no output 'sexual'" in msg and "signals[0].label" in msg


def test_review_above_block_is_rejected():
    msg = error_of(GOOD.replace("review_at: 0.5", "review_at: 0.9"))
    assert "categories.terrorism" in msg and "review_at (0.9) must not exceed block_at (0.8)" in msg


def test_audience_override_must_be_declared():
    msg = error_of(GOOD.replace("audiences: [teen]", "audiences: [kids]"))
    assert "audience 'teen' is not declared" in msg


def test_unknown_scorer_type_and_bad_params_name_the_scorer():
    assert "unknown scorer type 'lexikon'" in error_of(GOOD.replace("type: lexicon", "type: lexikon"))
    msg = error_of(GOOD.replace("terms: {", "termz: {"))
    assert "scorers.words.params" in msg


@pytest.mark.parametrize(("param", "missing"), [
    ("first_window_only: [public_figure]", "first_window_only names labels this scorer lacks: ['public_figure']"),
    ("minor_cues: {sexual_minors: terrorism}", "minor_cues names labels this scorer lacks: ['sexual_minors']"),
])
def test_a_text_scorer_param_may_only_name_the_scorers_own_labels(param: str, missing: str):
    prose = textwrap.indent(textwrap.dedent(f"""
        prose:
          type: text_embedding
          params:
            labels: {{terrorism: {{positive: [join the jihad]}}}}
            {param}"""), "  ")
    text = GOOD.replace("scorers:", "scorers:" + prose, 1)
    assert "prose:" in text
    msg = error_of(text)
    assert "scorers.prose.params" in msg and missing in msg


def test_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")


def test_cli_validate_exits_nonzero_naming_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("review_at: 0.5", "review_at: 0.95"))
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    run = lambda f: subprocess.run([sys.executable, "-m", "modpipe.cli.main", "policy", "validate", str(f)],  # noqa: E731
                                   capture_output=True, text=True)
    ok, ko = run(good), run(bad)
    assert ok.returncode == 0 and "ok" in ok.stdout and "sha256:" in ok.stdout
    assert ko.returncode == 3
    assert str(bad) in ko.stderr and "review_at (0.95) must not exceed block_at" in ko.stderr
