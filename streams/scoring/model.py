"""The online impact model: the rule-based prior, blended with a river model that learns from
human approval decisions, plus deliberation routing.

Labels: a human *rejection* means the action was high impact (label 1), an *approval* means it
was not (label 0).

Blend schedule: with n labelled examples learned so far,

    alpha = n / (n + blend_k)            (blend_k = 20 by default)
    score = (1 - alpha) * prior + alpha * p_model

so before any feedback the score *is* the prior, after 20 decisions it is half-and-half, after
180 it is 90 % model. The critical-priority floor (0.9) is applied after blending, always.

Model: `river.linear_model.LogisticRegression` on the features as they come. There is no
`StandardScaler` in front on purpose: every feature is already in [0, 1], and most are sparse
indicators (`kw_*`, `tenant_*`, `pii_*`) that are present only when 1.0 -- a scaler would see
each of them with zero variance and map it to 0, so the model could never learn from them.

Learning rate: plain SGD at 0.3. Measured on 30 rejected "transfer" messages alternating with
30 approved report summaries: a transfer then scores 0.70 and a summary 0.21 (0.60 / 0.34 at
0.1, which learns too slowly for the few decisions humans make; 1.0 overshoots single votes).

Caveat: humans only label what was deliberated, so the model learns from the high-score side.
An action kind the model learns to route to "auto" gets no further labels; sending a small
random share of auto-routed actions to review would correct that (not done here).

Versioning: `model_version` counts learned examples (+1 per `learn`); a checkpoint keeps it.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from river import linear_model, metrics, optim, utils

from streams.scoring.anomaly import DriftDetected, DriftMonitor
from streams.scoring.exceptions import InvalidCheckpoint, InvalidThreshold
from streams.scoring.prior import FLOOR_CONTRIBUTION, apply_critical_floor, prior_score

Route = Literal["auto", "deliberation"]
AUTO: Final[Route] = "auto"
DELIBERATION: Final[Route] = "deliberation"
DEFAULT_THRESHOLD: Final = 0.8

CHECKPOINT_MAGIC: Final = b"acgs.impact-model/1\n"
"""Prefix of `ImpactModel.checkpoint()` bytes; bump the suffix when the state layout changes."""

_REJECTION_PREDICTED_AT: Final = 0.5  # quality(): a score >= 0.5 "predicts" a human rejection


def route(score: float, threshold: float = DEFAULT_THRESHOLD) -> Route:
    """Return "deliberation" iff `score` >= `threshold`, else "auto"."""
    return DELIBERATION if score >= threshold else AUTO


def _checked(name: str, threshold: float) -> float:
    if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
        raise InvalidThreshold(name, threshold)
    return float(threshold)


@dataclass(frozen=True)
class RoutingPolicy:
    """Deliberation thresholds: a default, overridable per tenant and per message type.

    An override replaces the default. When both a tenant and a message-type override apply,
    the lower (stricter) one wins, so neither a tenant nor a platform-wide type rule can
    loosen the other. Keys are matched trimmed and lowercased.
    """

    default: float = DEFAULT_THRESHOLD
    per_tenant: Mapping[str, float] = field(default_factory=dict)
    per_message_type: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _checked("default", self.default)
        for attr in ("per_tenant", "per_message_type"):
            table = {
                key.strip().lower(): _checked(f"{attr}[{key!r}]", value)
                for key, value in getattr(self, attr).items()
            }
            object.__setattr__(self, attr, MappingProxyType(table))

    def threshold_for(self, tenant_id: str, message_type: str) -> float:
        """The threshold that applies to one action."""
        by_tenant = self.per_tenant.get(tenant_id.strip().lower())
        by_type = self.per_message_type.get(message_type.strip().lower())
        if by_tenant is None and by_type is None:
            return self.default
        return min(t for t in (by_tenant, by_type) if t is not None)

    def route(self, score: float, tenant_id: str, message_type: str) -> Route:
        """Route one scored action under this policy."""
        return route(score, self.threshold_for(tenant_id, message_type))


@dataclass(frozen=True, slots=True)
class Scored:
    """An impact score, why, and where it sends the action.

    `explanation` holds the top contributions (name, share of the score), largest magnitude
    first: prior components weighted by (1 - alpha), model features by their first-order
    effect alpha * p * (1 - p) * weight * value, and `critical_floor` when the floor lifted it.
    """

    score: float
    explanation: tuple[tuple[str, float], ...]
    model_version: int
    route: Route
    prior: float
    model_weight: float


@dataclass(frozen=True, slots=True)
class Learned:
    """Result of learning one human decision: the new version, what the score was just before
    (prequential), its absolute error against the decision, and any drift found."""

    model_version: int
    score_before: float
    error: float
    drift: DriftDetected | None


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


class ImpactModel:
    """Impact scorer that starts as the prior and learns from human decisions.

    Not thread-safe: one instance per stream task, checkpointed with `checkpoint()`.
    """

    def __init__(
        self,
        *,
        blend_k: float = 20.0,
        learning_rate: float = 0.3,
        l2: float = 0.0,
        quality_window: int = 500,
        explain_top: int = 5,
        drift_delta: float = 0.002,
    ) -> None:
        if blend_k <= 0 or learning_rate <= 0 or quality_window < 1 or explain_top < 1:
            raise ValueError(
                f"ImpactModel: got blend_k={blend_k}, learning_rate={learning_rate}, "
                f"quality_window={quality_window}, explain_top={explain_top}; want all > 0"
            )
        self.blend_k = blend_k
        self.explain_top = explain_top
        self.model_version = 0
        self.n_learned = 0
        self._model = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)
        self._accuracy = utils.Rolling(metrics.Accuracy, window_size=quality_window)
        self._rocauc = metrics.RollingROCAUC(window_size=quality_window)  # type: ignore[no-untyped-call]
        self._drift = DriftMonitor(delta=drift_delta)

    @property
    def model_weight(self) -> float:
        """alpha = n / (n + blend_k): the model's share of the blended score."""
        return self.n_learned / (self.n_learned + self.blend_k)

    def score(self, features: dict[str, float], *, threshold: float = DEFAULT_THRESHOLD) -> Scored:
        """Score one action's features and route it against `threshold`."""
        prior = prior_score(features)
        alpha = self.model_weight
        keep = 1.0 - alpha
        shares = {
            name: keep * value for name, value in prior.contributions if value and name != FLOOR_CONTRIBUTION
        }
        blended = prior.raw
        if alpha > 0.0:
            p_model = self._explain_model(features, alpha, shares)
            blended = keep * prior.raw + alpha * p_model
        score = apply_critical_floor(blended, features)
        if score > blended:
            shares[FLOOR_CONTRIBUTION] = score - blended
        top = sorted(shares.items(), key=_magnitude, reverse=True)[: self.explain_top]
        return Scored(score, tuple(top), self.model_version, route(score, threshold), prior.score, alpha)

    def _explain_model(self, features: dict[str, float], alpha: float, shares: dict[str, float]) -> float:
        """Model probability for `features`; adds each feature's share to `shares`.

        A feature's share is first order: alpha * p * (1 - p) * weight * value, the change in
        blended score its logit term makes near p (no exp per feature on the hot path).
        """
        # The private VectorDict is read directly: `.weights` copies every weight per call.
        weights = self._model._weights
        p = _sigmoid(weights.dot(features) + self._model.intercept)
        slope = alpha * p * (1.0 - p)
        weight_of = weights.get
        for name, value in features.items():
            weight = weight_of(name, 0.0)
            if weight and value:
                shares[name] = shares.get(name, 0.0) + slope * weight * value
        return p

    def learn(self, features: dict[str, float], approved: bool) -> Learned:
        """Learn one human decision on the action with these features (approved -> label 0)."""
        rejected = not approved
        before = self.score(features).score
        self._accuracy.update(rejected, before >= _REJECTION_PREDICTED_AT)
        self._rocauc.update(rejected, before)  # type: ignore[no-untyped-call]
        error = abs((1.0 if rejected else 0.0) - before)
        detected = self._drift.update(error)
        self._model.learn_one(dict(features), rejected)
        self.n_learned += 1
        self.model_version += 1
        return Learned(self.model_version, before, error, detected)

    def quality(self) -> dict[str, float | int]:
        """Rolling prequential quality of the blended score against human decisions."""
        return {
            "accuracy": float(self._accuracy.obj.get()),  # type: ignore[no-untyped-call]
            "roc_auc": float(self._rocauc.get()),  # type: ignore[no-untyped-call]
            "window": len(self._accuracy.window),
            "n_learned": self.n_learned,
            "model_version": self.model_version,
            "model_weight": self.model_weight,
        }

    def checkpoint(self) -> bytes:
        """The full state (model, metrics, drift detector, counters) as bytes.

        The body is a pickle: restore only checkpoints this service wrote to a store it trusts.
        """
        return CHECKPOINT_MAGIC + pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, data: bytes) -> ImpactModel:
        """Rebuild the model `checkpoint()` wrote, same version and same scores."""
        if not data.startswith(CHECKPOINT_MAGIC):
            raise InvalidCheckpoint(bytes(data[: len(CHECKPOINT_MAGIC)]), CHECKPOINT_MAGIC)
        state = pickle.loads(data[len(CHECKPOINT_MAGIC) :])
        if not isinstance(state, dict) or "_model" not in state:
            raise InvalidCheckpoint(type(state).__name__, "ImpactModel state dict")
        model = cls.__new__(cls)
        model.__dict__.update(state)
        return model


def _magnitude(item: tuple[str, float]) -> float:
    return abs(item[1])
