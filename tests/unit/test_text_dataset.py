"""How dev records become training targets: a category counts a record as a negative only where
its source really says the record is not that category."""

from __future__ import annotations

import json

from modpipe.text.dataset import read_jsonl, targets

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
