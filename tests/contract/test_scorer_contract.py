"""One contract, checked over every registered scorer type (STYLE.md #9).

Each scorer is built the way a policy builds it (params validated by its `Params` model, the
same `Resources`), then fed samples of the modalities it accepts. Whatever the model, it must:
declare outputs, reject unknown params, report a model id, return scores in [0, 1] only for
labels it declared and samples it was given (keeping their modality and times), score nothing
for nothing, and close cleanly. CLIP runs on a tiny random open_clip model (no weights ship).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modpipe.policy import load_policy
from modpipe.resources import Resources
from modpipe.scorers import BUILTIN, get_scorer_class
from modpipe.settings import Settings
from modpipe.testing.media import scene, text_frame
from modpipe.types import Modality, Sample

DEFAULT = load_policy().policy
DEFAULT_PARAMS = {spec.type: spec.params for spec in DEFAULT.scorers.values()}


def params_for(type_name: str, tiny_clip) -> dict:  # noqa: ANN001
    if type_name == "clip_zeroshot":
        return {**DEFAULT_PARAMS[type_name], "model": "tiny-clip",
                "model_config_path": str(tiny_clip / "tiny-clip.json"),
                "weights": str(tiny_clip / "tiny-clip.pt")}
    return DEFAULT_PARAMS[type_name]


def samples_for(modalities: frozenset[Modality]) -> list[Sample]:
    out: list[Sample] = []
    if Modality.PROMPT in modalities:
        out.append(Sample(len(out), Modality.PROMPT, text="a golden retriever playing in the snow"))
        out.append(Sample(len(out), Modality.PROMPT, text="join the jihad and kill the infidels"))
    if Modality.SPEECH in modalities:
        out.append(Sample(len(out), Modality.SPEECH, 1.0, 2.5, text="welcome back to the cooking show"))
    if Modality.OCR in modalities:
        out.append(Sample(len(out), Modality.OCR, 3.0, 4.0, text="SALE TODAY ONLY"))
    if Modality.FRAME in modalities:
        out.append(Sample(len(out), Modality.FRAME, 0.0, 1.0, image=scene()))
        out.append(Sample(len(out), Modality.FRAME, 1.0, 2.0, image=text_frame("HELLO WORLD")))
    if Modality.IMAGE in modalities:
        out.append(Sample(len(out), Modality.IMAGE, image=scene(seed=3)))
    return out


@pytest.mark.parametrize("type_name", sorted(BUILTIN))
def test_every_registered_scorer_keeps_the_contract(type_name, tiny_clip, tmp_path):
    cls = get_scorer_class(type_name)
    assert cls.type == type_name and cls.modalities
    raw = params_for(type_name, tiny_clip)
    params = cls.Params.model_validate(raw)
    with pytest.raises(ValidationError):
        cls.Params.model_validate({**raw, "no_such_param": 1})
    outputs = cls.outputs(params)
    assert outputs and all(isinstance(o, str) for o in outputs)

    scorer = cls("under_test", params, Resources(Settings(home=tmp_path)))
    try:
        assert isinstance(scorer.model_id, str) and scorer.model_id
        samples = samples_for(cls.modalities)
        assert samples, f"{type_name} accepts no modality this test knows"
        by_index = {s.index: s for s in samples}
        scores = scorer.score(samples)
        assert isinstance(scores, list)
        for sc in scores:
            assert sc.scorer == "under_test"
            assert 0.0 <= sc.value <= 1.0
            assert sc.label in outputs
            given = by_index[sc.sample]
            assert (sc.modality, sc.start, sc.end) == (given.modality, given.start, given.end)
        assert scorer.score([]) == []
    finally:
        scorer.close()
