"""The online impact model: cold start, learning from humans, checkpoints, quality."""

from __future__ import annotations

import pytest

from streams.scoring.exceptions import InvalidCheckpoint
from streams.scoring.features import ScoringInput, extract_features
from streams.scoring.model import CHECKPOINT_MAGIC, ImpactModel
from streams.scoring.prior import CRITICAL_FLOOR, FLOOR_CONTRIBUTION, prior_score


def features(content: str, tenant: str = "acme", priority: str = "normal") -> dict[str, float]:
    return extract_features(ScoringInput(tenant, "agent-7", "command", priority, content))


TRANSFER = "please transfer the funds to the vendor"
BENIGN = "please summarise the weekly report"


def teach(model: ImpactModel, rounds: int) -> None:
    """Humans reject transfers from acme and approve report summaries, alternately."""
    for i in range(rounds):
        model.learn(features(f"{TRANSFER} {i}"), approved=False)
        model.learn(features(f"{BENIGN} {i}"), approved=True)


def test_before_any_feedback_the_score_is_the_prior() -> None:
    model = ImpactModel()
    for content in (TRANSFER, BENIGN, "delete the credentials"):
        scored = model.score(features(content))
        assert scored.score == prior_score(features(content)).score
        assert scored.prior == scored.score
        assert (scored.model_version, scored.model_weight) == (0, 0.0)


def test_the_model_weight_follows_n_over_n_plus_k() -> None:
    model = ImpactModel(blend_k=20)
    teach(model, 10)
    assert model.model_weight == pytest.approx(20 / 40)
    teach(model, 80)
    assert model.model_weight == pytest.approx(180 / 200)


def test_rejections_of_one_kind_of_action_raise_its_score() -> None:
    model = ImpactModel()
    before = model.score(features(TRANSFER)).score
    teach(model, 30)
    after = model.score(features(TRANSFER)).score
    assert after > before + 0.2
    assert after > model.score(features(BENIGN)).score + 0.2


def test_approvals_of_one_kind_of_action_lower_its_score_relative_to_rejected_ones() -> None:
    model = ImpactModel()
    teach(model, 30)
    benign = model.score(features(BENIGN))
    transfer = model.score(features(TRANSFER))
    assert benign.score < transfer.score
    assert benign.route == "auto"


def test_the_explanation_names_what_the_model_learned() -> None:
    model = ImpactModel()
    teach(model, 30)
    explanation = dict(model.score(features(TRANSFER)).explanation)
    assert "kw_transfer" in explanation
    assert explanation["kw_transfer"] > 0
    assert len(explanation) <= model.explain_top


def test_learning_never_lifts_the_critical_floor() -> None:
    model = ImpactModel()
    for i in range(200):
        model.learn(features(f"status ping {i}", priority="critical"), approved=True)
    scored = model.score(features("status ping", priority="critical"))
    assert scored.score == CRITICAL_FLOOR
    assert scored.route == "deliberation"
    assert FLOOR_CONTRIBUTION in dict(scored.explanation)


def test_every_learned_decision_bumps_the_model_version() -> None:
    model = ImpactModel()
    learned = [model.learn(features(BENIGN), approved=True) for _ in range(3)]
    assert [result.model_version for result in learned] == [1, 2, 3]
    assert model.score(features(BENIGN)).model_version == 3


def test_learning_reports_the_score_it_had_just_before_and_its_error() -> None:
    model = ImpactModel()
    learned = model.learn(features(TRANSFER), approved=False)
    assert learned.score_before == prior_score(features(TRANSFER)).score
    assert learned.error == pytest.approx(1.0 - learned.score_before)


def test_checkpoint_and_restore_keep_the_version_and_the_scores() -> None:
    model = ImpactModel()
    teach(model, 25)
    restored = ImpactModel.restore(model.checkpoint())
    assert restored.model_version == model.model_version == 50
    for content in (TRANSFER, BENIGN, "delete everything"):
        assert restored.score(features(content)) == model.score(features(content))
    assert restored.quality() == model.quality()


def test_a_restored_model_keeps_learning_like_the_original() -> None:
    model = ImpactModel()
    teach(model, 5)
    restored = ImpactModel.restore(model.checkpoint())
    teach(model, 5)
    teach(restored, 5)
    assert restored.score(features(TRANSFER)) == model.score(features(TRANSFER))


def test_restore_refuses_bytes_that_are_not_a_checkpoint() -> None:
    with pytest.raises(InvalidCheckpoint, match="want"):
        ImpactModel.restore(b"not a checkpoint")
    with pytest.raises(InvalidCheckpoint):
        ImpactModel.restore(CHECKPOINT_MAGIC + __import__("pickle").dumps([1, 2]))


def test_quality_tracks_accuracy_and_roc_auc_against_human_decisions() -> None:
    model = ImpactModel()
    assert model.quality()["window"] == 0
    teach(model, 60)
    quality = model.quality()
    assert quality["window"] == 120
    assert quality["n_learned"] == quality["model_version"] == 120
    assert 0.5 < quality["accuracy"] <= 1.0
    assert 0.5 < quality["roc_auc"] <= 1.0


def test_a_sudden_change_in_human_decisions_is_reported_as_drift() -> None:
    model = ImpactModel()
    teach(model, 150)
    drifts = []
    for i in range(150):  # humans change their mind: transfers are now fine, reports are not
        drifts.append(model.learn(features(f"{TRANSFER} {i}"), approved=True).drift)
        drifts.append(model.learn(features(f"{BENIGN} {i}"), approved=False).drift)
    assert any(d is not None for d in drifts)
