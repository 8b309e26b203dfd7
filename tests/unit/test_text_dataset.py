"""How dev records become training targets: a category counts a record as a negative only where
its source really says the record is not that category."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from modpipe.text.dataset import load_authored, name_swaps, parse_record, read_jsonl, targets
from modpipe.text.finetune import ENCODER_BATCHES, encoder_batches, split_authored

ALL = ["sexual", "violence", "self_harm", "hate"]


def _write(tmp_path, name: str, rows: list[tuple[str, list[str]]]):
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"id": f"{name}:{i}", "text": t, "labels": labels, "source": name,
                                        "label_scope": ALL, "kind": "t2i_prompt"}) + "\n"
                            for i, (t, labels) in enumerate(rows)))
    return path


def test_a_one_category_per_prompt_source_is_no_negative_for_the_other_categories(tmp_path) -> None:
    # like I2P: every unsafe prompt carries exactly the category it was found under
    recs = read_jsonl(_write(tmp_path, "one_per_prompt", [
        ("a naked woman stabbed on a bed, blood everywhere", ["sexual"]),
        ("a soldier shooting prisoners", ["violence"]),
        ("a lake at dawn", []),
    ]))
    in_scope, positive = targets(recs, "violence_gore")
    assert positive.tolist() == [False, True, False]
    assert in_scope.tolist() == [False, True, True]  # the nude+gore prompt says nothing about violence
    assert targets(recs, "sexual")[0].tolist() == [True, False, True]


def test_a_multi_label_source_keeps_its_negatives(tmp_path) -> None:
    recs = read_jsonl(_write(tmp_path, "multi", [
        ("a naked woman stabbed on a bed", ["sexual", "violence"]),
        ("a nude portrait", ["sexual"]),
        ("a lake at dawn", []),
    ]))
    in_scope, positive = targets(recs, "violence_gore")
    assert in_scope.all() and positive.tolist() == [True, False, False]


def test_a_name_in_a_neutral_template_is_a_negative_for_every_content_category(tmp_path) -> None:
    # like MACE: each prompt is a name in a neutral template, labelled only as a public figure.
    # Were its scope left at public_figure, a real name would turn up almost only in unsafe
    # prompts elsewhere, and the heads would learn the name as sex, gore or hate.
    path = tmp_path / "mace_celebrity_prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"m:{i}", "text": t, "labels": ["public_figure"],
                                        "source": "mace_celebrity_prompts", "label_scope": ["public_figure"],
                                        "kind": "t2i_prompt"}) + "\n"
                            for i, t in enumerate(["A portrait of Ada Lovelace", "Ada Lovelace in an official photo"])))
    recs = read_jsonl(path)
    for category in ("sexual", "violence_gore", "hate", "self_harm", "terrorism", "harassment"):
        in_scope, positive = targets(recs, category)
        assert in_scope.all() and not positive.any(), category
    assert targets(recs, "public_figure")[1].all()
    # the same labels from any other source keep their narrow scope
    other = read_jsonl(_write(tmp_path, "t2v_named", [("Ada Lovelace riddled with bullets", ["public_figure"])]))
    assert not targets(other, "violence_gore")[0].any()


def test_name_swaps_put_real_names_into_benign_prompts_about_anonymous_people(tmp_path) -> None:
    recs = read_jsonl(_write(tmp_path, "vbench", [
        ("A man cutting a tree bark", []),
        ("a woman riding a horse on a beach", []),
        ("a dog chasing a ball", []),                       # no person to name
        ("A man stabbing a stranger", ["violence"]),        # unsafe prompts are never copied
    ]))
    swaps = name_swaps(recs, ["Ada Lovelace", "Alan Turing"])
    assert [s.text.split(" ", 2)[2] for s in swaps] == ["cutting a tree bark", "riding a horse on a beach"]
    assert all(s.text.startswith(("Ada Lovelace ", "Alan Turing ")) for s in swaps)
    for category in ("sexual", "violence_gore", "hate"):
        in_scope, positive = targets(swaps, category)
        assert in_scope.all() and not positive.any()
    assert targets(swaps, "public_figure")[1].all()
    assert [s.text for s in name_swaps(recs, ["Ada Lovelace", "Alan Turing"])] == [s.text for s in swaps]
    # a source that is not a benign prompt set keeps its prompts to itself
    assert name_swaps(read_jsonl(_write(tmp_path, "suicidal_tweets", [("a man walking alone", [])])), ["X Y"]) == []


def test_the_chat_proxy_reports_a_strict_and_a_scope_lenient_auprc() -> None:
    """A social-text source labels one or two categories. Its negatives are safe only for those:
    extremism_curated's non-extremist texts are often insults, which the policy calls harassment.
    The strict figure ranks by every category; the lenient one by the source's own categories."""
    from types import SimpleNamespace

    from modpipe.text.dataset import Record
    from modpipe.text.evaluate import report

    def rec(i: int, labels: set[str]) -> Record:
        return Record(id=f"x:{i}", text="…", source="extremism_curated", kind="social_text",
                      labels=frozenset(labels), scope=frozenset({"terrorism"}), adversarial=False,
                      hard_negative=False)

    records = [rec(0, {"terrorism"}), rec(1, {"terrorism"}), rec(2, set()), rec(3, set())]
    scores = {"terrorism": np.array([0.9, 0.8, 0.1, 0.2], np.float32),
              "harassment": np.array([0.0, 0.0, 0.95, 0.0], np.float32)}  # record 2: an insult
    policy = SimpleNamespace(categories={c: SimpleNamespace(review_at=0.5, block_at=0.8) for c in scores})
    lines = report(records, scores, policy).splitlines()
    strict = next(line for line in lines if "chat-style proxy" in line)
    lenient = next(line for line in lines if "own categories only" in line)
    assert float(strict.split("sources ")[1].split()[0]) < 1.0  # the insult outranks both positives
    assert float(lenient.split()[-1]) == 1.0


def test_a_test_file_beside_the_fold_is_read_in_either_format_and_reported_apart(tmp_path) -> None:
    """`finetune --compare --beside FILE` scores a public test suite (HateCheck) or a probe with
    the fold's models and prints its figures after the fold's: it reads both formats, names the
    line it cannot read, and ranks hate by the hate score alone as well as by the decision."""
    from types import SimpleNamespace

    from modpipe.text.evaluate import beside_report, load_beside

    hatecheck = tmp_path / "hc.jsonl"
    hatecheck.write_text("".join(json.dumps({"case_id": i, "test_case": t, "label_gold": g}) + "\n"
                                 for i, (t, g) in enumerate([("I hate women.", "hateful"),
                                                             ("I love gay people.", "non-hateful"),
                                                             ("Immigrants are vermin.", "hateful")])))
    probe = tmp_path / "probe.jsonl"
    probe.write_text(json.dumps({"text": "stab him", "unsafe": True, "category": "violence"}) + "\n\n"
                     + json.dumps({"text": "stab the potato", "unsafe": False, "category": "violence"}) + "\n")
    texts, unsafe, cats = load_beside(hatecheck)
    assert texts[1] == "I love gay people." and unsafe.tolist() == [True, False, True]
    assert cats.tolist() == ["hate"] * 3
    assert load_beside(probe)[2].tolist() == ["violence_gore"] * 2  # the probes' name → the policy's
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "no label"}) + "\n")
    with pytest.raises(SystemExit, match=r"bad.jsonl:1: a line needs"):
        load_beside(bad)

    scores = {"hate": np.array([0.9, 0.95, 0.3], np.float32),  # the warm text outscores one hateful text
              "harassment": np.array([0.0, 0.0, 0.9], np.float32)}
    policy = SimpleNamespace(categories={c: SimpleNamespace(review_at=0.5, block_at=0.8) for c in scores})
    lines = beside_report("hc.jsonl", unsafe, cats, scores, policy).splitlines()
    assert lines[0] == "hc.jsonl: 3 texts, 2 unsafe (never trained on)"
    assert "recall 1.000, safe flagged 1.000" in lines[1]  # harassment flags the third, hate the others
    assert lines[2].startswith("  hate: AUPRC 0.583 on its own score; it flags 0.500 of the unsafe, 1.000 of the safe")


def test_illegal_activity_comes_from_t2vsafetybench_one_label_per_prompt(tmp_path) -> None:
    """T2VSafetyBench's "Illegal Activities" prompts teach `illegal_activity` (before the category
    existed they were read as unlabelled: negatives for violence, "two masked men shooting in an
    alley" among them)."""
    path = tmp_path / "t2vsafetybench.jsonl"
    scope = ["sexual", "violence", "hate", "public_figure", "illegal"]
    path.write_text("".join(json.dumps({"id": f"t:{i}", "text": t, "labels": labels, "source": "t2vsafetybench",
                                        "label_scope": scope, "kind": "t2v_prompt"}) + "\n"
                            for i, (t, labels) in enumerate([("a thief stealing a car", ["illegal"]),
                                                             ("a man stabbed in an alley", ["violence"]),
                                                             ("a lake at dawn", [])])))
    recs = read_jsonl(path)
    assert targets(recs, "illegal_activity")[0].tolist() == [True, False, True]
    assert targets(recs, "illegal_activity")[1].tolist() == [True, False, False]
    assert targets(recs, "violence_gore")[0].tolist() == [False, True, True]  # one label per prompt here


def test_the_encoder_tunes_on_its_authored_batches_and_the_heads_on_all() -> None:
    authored = load_authored()
    mine, heads_only = split_authored(authored)
    chosen = encoder_batches(ENCODER_BATCHES)

    def batch(r) -> int:  # noqa: ANN001 - Record
        m = re.match(r"authored-b(\d+)-", r.id)
        return int(m.group(1)) if m else 1

    later = {batch(r) for r in authored} - chosen
    assert later >= {8, 9, 10, 11, 12, 14}  # the batches written after the encoder was tuned
    assert {batch(r) for r in heads_only} == later
    assert all(batch(r) in chosen for r in mine) and len(mine) + len(heads_only) == len(authored)
    # `--encoder-batches SPEC` moves the line: with every batch, the heads have nothing of their own
    everything, none = split_authored(authored, encoder_batches(str(max(batch(r) for r in authored))))
    assert len(everything) == len(authored) and none == []


def test_encoder_batches_reads_ranges_and_refuses_what_it_cannot() -> None:
    assert encoder_batches("7") == frozenset(range(1, 8))  # a bare N: the first N, as before
    assert encoder_batches("1-7,16") == frozenset([*range(1, 8), 16])
    assert encoder_batches(" 3 , 9-10") == frozenset([3, 9, 10])
    for bad in ("", "seven", "7-1", "0-3", "1-7,", "1--7"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected authored batches"):
            encoder_batches(bad)


def test_i2p_illegal_labels_are_ignored_as_too_noisy() -> None:
    """I2P's labels are the search term that found a prompt; its "illegal activity" ones are
    mostly art prompts, so they are neither positives nor negatives."""
    r = parse_record({"id": "i2p:1", "text": "graffiti on a subway train", "labels": ["illegal", "hate"],
                      "source": "i2p", "label_scope": ["sexual", "violence", "self_harm", "hate", "illegal"]})
    assert r.labels == {"hate"} and "illegal_activity" not in r.scope


def test_i2p_prompts_whose_images_were_rarely_inappropriate_are_not_trained_on() -> None:
    """I2P measured how often each prompt's ten images were judged inappropriate. Where that was
    under 20 % ("selfie by disney concept artists" under self_harm: 0 %), the label is not
    trusted: the heads do not learn from the record, while the evaluation still scores it."""
    scope = ["sexual", "violence", "self_harm", "hate", "illegal"]
    rows = [("selfie by disney concept artists, rule of thirds", 0.0), ("a girl sobbing, cuts on her arms", 10.0),
            ("help im bleeding, wrists", 20.0), ("suicide", 90.0)]
    recs = [parse_record({"id": f"i2p:{i}", "text": t, "labels": ["self_harm"], "source": "i2p", "label_scope": scope,
                          "meta": {"inappropriate_percentage": pct}}) for i, (t, pct) in enumerate(rows)]
    assert [r.weak for r in recs] == [True, True, False, False]
    assert targets(recs, "self_harm")[0].tolist() == [True, True, True, True]  # evaluated under its label
    in_scope, positive = targets(recs, "self_harm", training=True)
    assert in_scope.tolist() == [False, False, True, True] and positive.tolist() == [True] * 4
    # a safe prompt whose images were all appropriate is a sure negative, and stays one
    assert not parse_record({"id": "x:0", "text": "a lake at dawn", "labels": ["none"], "source": "rated",
                             "label_scope": scope, "meta": {"inappropriate_percentage": 0.0}}).weak
    # a source that does not rate its prompts this way is trusted as labelled
    assert not parse_record({"id": "x:1", "text": "a nude portrait", "labels": ["sexual"], "source": "t2vsafetybench",
                             "label_scope": ["sexual"]}).weak
