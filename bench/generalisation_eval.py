"""One seed of the generalisation benchmark: data, baselines and heads, scored on every set."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.generalisation_data import msc_examples, msc_sessions, msc_utterances, prefeval_set
from bench.generalisation_stage import renamed, set_features, stage_rows
from bench.rerank_data import load_bench_data
from bench.rerank_personachat import choose_lambda, cosine, persona_maxsim
from models.encoded import EmbedFn, EncodedExamples, encode
from models.ranking_metrics import hits_at_1
from models.reranking_head import HeadConfig, RerankingHead
from models.robust_head import (
    NULL_HEAD,
    REPLY_HEAD,
    SHRINKS,
    RobustResult,
    train_reply_heads,
    train_robust_heads,
)
from models.stance_persona import encode_with_stance
from models.stance_scorer import (
    StanceRow,
    leave_one_topic_out,
    stance_features,
    stance_scores,
)
from models.stance_training import STANCE_TRAINING, train_stance, training_only
from models.training import TrainConfig, hold_out, new_head, score, train_head

Key = tuple[str, str, str]  # method, dataset, split
Scorer = Callable[[EncodedExamples], npt.NDArray[np.float32]]
# The heads as first measured: persona features without the row's null (models.persona_null).
PREVIOUS_HEAD = HeadConfig(use_gate=True, persona_null=False, persona_mean_prior=0.0)
STANCE_HEAD = replace(PREVIOUS_HEAD, use_polarity=True)
PREVIOUS_TRAINING = TrainConfig(consider_untrained=False)
ROW_SETS = ("all", "null_stage", "reply_stage")
# The null head's rows by how its trained correction is shrunk (models.robust_head.SHRINKS):
# the MLP only, or the output-space ensemble with the untrained head.
NULL_ROWS = {
    "correction": "head_null",
    "ensemble": "head_null_ensemble",
    "ensemble_1se": "head_null_ensemble_1se",
}
# The heads with the context-to-reply term (models.robust_head.train_reply_heads):
# the untrained null prior plus the trained term, and that head after head_null's training.
REPLY_ROWS = {"reply": "head_reply", "reply_then_correction": "head_null_reply"}


@dataclass
class SeedResult:
    hits: dict[Key, float] = field(default_factory=dict)
    sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    per_topic: dict[str, dict[str, float]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sets:
    """Encoded test sets by (dataset, split), the ConvAI2 training split, PrefEval topics."""

    tests: dict[tuple[str, str], EncodedExamples]
    train: EncodedExamples
    train_users: list[str]
    topics: npt.NDArray[np.str_]
    # The same test sets with stance-signed persona input (models.stance_persona), and
    # PrefEval in words for the parsed-stance scorer (models.stance_scorer).
    signed: dict[tuple[str, str], EncodedExamples] = field(default_factory=dict)
    signed_train: EncodedExamples | None = None
    prefeval_rows: list[StanceRow] = field(default_factory=list)
    embed: EmbedFn | None = None
    # Every test set in words, for the stance stage (bench.generalisation_stage).
    words: dict[tuple[str, str], list[StanceRow]] = field(default_factory=dict)


def load_sets(
    root: Path | None,
    *,
    seed: int,
    convai2_users: int | None,
    msc_pairs: int | None,
    say: Callable[[str], None],
) -> Sets:
    data = load_bench_data(root, users=convai2_users, seed=seed, with_spc=False, say=say)
    sessions = msc_sessions(root)
    chosen = set(sorted({s.pair_id for s in sessions})[:msc_pairs]) if msc_pairs else None
    msc = msc_examples(msc_utterances(sessions, pairs=chosen), seed=seed + 10)
    prefeval = prefeval_set(root, seed=seed)
    say(f"encoding: ConvAI2, {len(msc)} MSC exchanges, {len(prefeval.examples)} PrefEval items")
    tests = {
        ("convai2", "unseen_users"): encode(data.unseen_examples, data.embed, dimension=384),
        ("convai2", "later_turns"): encode(data.later_examples, data.embed, dimension=384),
        ("msc", "valid_sessions_2_4"): encode(msc, data.embed, dimension=384),
        ("prefeval", "mcq_dev_topics"): encode(
            prefeval.examples, data.embed, dimension=384, labels=prefeval.gold
        ),
    }
    examples = {
        ("convai2", "unseen_users"): (data.unseen_examples, None),
        ("convai2", "later_turns"): (data.later_examples, None),
        ("msc", "valid_sessions_2_4"): (msc, None),
        ("prefeval", "mcq_dev_topics"): (prefeval.examples, prefeval.gold),
    }
    signed = {
        key: encode_with_stance(rows, data.embed, dimension=384, labels=gold)
        for key, (rows, gold) in examples.items()
    }
    return Sets(
        tests,
        encode(data.train_examples, data.embed, dimension=384),
        [e.user_id for e in data.train_examples],
        np.asarray([item.topic for item in prefeval.items]),
        signed,
        encode_with_stance(data.train_examples, data.embed, dimension=384),
        [StanceRow(i.question, (i.preference,), i.options) for i in prefeval.items],
        data.embed,
        {
            key: [StanceRow(e.context, e.persona, e.candidates) for e in rows]
            for key, (rows, _) in examples.items()
        },
    )


def topic_folds(topics: npt.NDArray[np.str_], seed: int) -> npt.NDArray[np.int64]:
    """Fold (0 or 1) of each PrefEval item: half the topics, drawn with ``seed``, per fold."""
    names = sorted(set(topics.tolist()))
    order = np.random.default_rng(seed).permutation(len(names))
    fold = {names[i]: rank % 2 for rank, i in enumerate(order)}
    return np.asarray([fold[t] for t in topics.tolist()], np.int64)


def record(result: SeedResult, method: str, sets: Sets, scorer: Scorer) -> None:
    for (dataset, split), data in sets.tests.items():
        result.hits[(method, dataset, split)] = hits_at_1(scorer(data), data.labels)
        result.sizes[(dataset, split)] = len(data)


def per_topic(
    scores: npt.NDArray[np.float32], data: EncodedExamples, topics: npt.NDArray[np.str_]
) -> dict[str, float]:
    return {
        t: hits_at_1(scores[topics == t], data.labels[topics == t])
        for t in sorted(set(topics.tolist()))
    }


Stage1 = tuple[RerankingHead, EncodedExamples, EncodedExamples | None]


def conversation_head(sets: Sets, seed: int, *, signed: bool = False) -> Stage1:
    """Stage 1: the default head on ConvAI2's training split, stance kept neutral
    (models.stance_training.training_only); early stopping on held-out users
    (models.training), which may keep the untrained head. Returns the head, the
    rows it trained on and the held-out users' rows."""
    config = TrainConfig(seed=seed)
    rows = sets.signed_train if signed and sets.signed_train is not None else sets.train
    train, validation = hold_out(rows, config, sets.train_users)
    model = new_head(replace(STANCE_HEAD, stance_input=signed), seed=seed)
    with training_only(model, stance=False):
        train_head(model, train, config, validation=validation)
    return model, train, validation


def evaluate_seed(
    root: Path | None,
    *,
    seed: int,
    convai2_users: int | None,
    msc_pairs: int | None,
    say: Callable[[str], None],
    rows: str = "all",
) -> SeedResult:
    """Every row (``rows="all"``), or only the baselines, the null heads and the stance
    stage on top of each (``rows="null_stage"``: the combined row without the other heads),
    or the baselines, ``head_null`` and the heads with the context-to-reply term, each with
    the stage (``rows="reply_stage"``)."""
    if rows not in ROW_SETS:
        raise ValueError(f"rows must be one of {ROW_SETS}, got {rows!r}")
    sets = load_sets(root, seed=seed, convai2_users=convai2_users, msc_pairs=msc_pairs, say=say)
    result = SeedResult()
    lam = choose_lambda(sets.train)
    null_prior = new_head(NULL_HEAD, seed=seed)
    baselines: dict[str, Scorer] = {
        "cosine": cosine,
        "persona_maxsim": lambda d: cosine(d) + lam * persona_maxsim(d),
        "persona_null": _scorer(null_prior),  # the untrained NULL_HEAD: no parameter trained
    }
    prefeval = sets.tests[("prefeval", "mcq_dev_topics")]
    for method, scorer in baselines.items():
        record(result, method, sets, scorer)
        result.per_topic[method] = per_topic(scorer(prefeval), prefeval, sets.topics)
    say("training heads ...")
    shrinks = ("correction",) if rows == "reply_stage" else SHRINKS
    robust = train_robust_heads(
        sets.train, sets.train_users, TrainConfig(seed=seed), shrinks=shrinks
    )
    trained = {NULL_ROWS[k]: head for k, head in robust.items()}
    if rows == "reply_stage":
        reply = train_reply_heads(sets.train, sets.train_users, TrainConfig(seed=seed))
        trained.update({REPLY_ROWS[k]: head for k, head in reply.items()})
        result.config["head_reply"] = REPLY_HEAD.to_json()
    _null_stage(result, sets, {name: model for name, (model, _) in trained.items()})
    result.config = {
        "persona_maxsim_lambda": lam,
        "head_null": NULL_HEAD.to_json(),
        **_robust_config(trained),
        **result.config,
    }
    if rows == "all":
        _other_heads(result, sets, seed)
    return result


def _scorer(model: RerankingHead) -> Scorer:
    return lambda data: score(model, data)


def _robust_config(heads: dict[str, tuple[RerankingHead, RobustResult]]) -> dict[str, Any]:
    """Each trained head's chosen scale and best epoch, under its row name."""
    config: dict[str, Any] = {}
    for name, (model, trained) in heads.items():
        config[f"{name}_scale"] = trained.scale
        config[f"{name}_best_epoch"] = trained.training.best_epoch
        # cos, max_j s, mean_j s weights as scored (the untrained head: 1, 1, -0.75)
        config[f"{name}_prior"] = model.prior.weight.detach().tolist()[0]
    return config


def _null_stage(result: SeedResult, sets: Sets, heads: dict[str, RerankingHead]) -> None:
    """Each null head (``head_null``, ``head_null_ensemble``) on every set, and the stance
    stage on top of it (``<head>_stance_stage*``)."""
    if sets.embed is None:
        raise ValueError("the stance stage needs the sets' encoder (Sets.embed is None)")
    prefeval = sets.tests[("prefeval", "mcq_dev_topics")]
    features = set_features(sets.tests, sets.words, sets.embed)
    for name, model in heads.items():
        scorer = _scorer(model)
        record(result, name, sets, scorer)
        result.per_topic[name] = per_topic(scorer(prefeval), prefeval, sets.topics)
        stage = stage_rows(sets.tests, sets.words, sets.topics, scorer, sets.embed, features)
        stage = renamed(stage, name)
        result.hits.update(stage["hits"])
        result.sizes.update(stage["sizes"])
        result.per_topic.update(stage["per_topic"])
        result.config[f"{name.removeprefix('head_')}_stance_stage"] = stage["config"]


def _other_heads(
    result: SeedResult,
    sets: Sets,
    seed: int,
) -> None:
    """The rows of every head but the null one's: previous, stage 1, central, stance."""
    previous = new_head(PREVIOUS_HEAD, seed=seed)
    train_head(previous, sets.train, replace(PREVIOUS_TRAINING, seed=seed))
    conversations = conversation_head(sets, seed)
    scorers: dict[str, Scorer] = {
        "head_previous": lambda d: score(previous, d),
        "head_conversations": lambda d: score(conversations[0], d),
    }
    prefeval = sets.tests[("prefeval", "mcq_dev_topics")]
    for method, scorer in scorers.items():
        record(result, method, sets, scorer)
        result.per_topic[method] = per_topic(scorer(prefeval), prefeval, sets.topics)
    _central(result, sets, seed, conversations)
    _parsed_stance(result, sets, conversations[0], seed)
    _stance_stage(result, sets, lambda d: score(conversations[0], d))
    result.config.update(
        {
            "head": STANCE_HEAD.to_json(),
            "train": TrainConfig(seed=seed).__dict__,
            "stance_train": replace(STANCE_TRAINING, seed=seed).__dict__,
            "convai2_train_examples": len(sets.train),
        }
    )


def _central(
    result: SeedResult,
    sets: Sets,
    seed: int,
    conversations: Stage1,
) -> None:
    """Stage 2 (models.stance_training) on each PrefEval fold: each head scores the topics
    it did not train on; the ConvAI2 and MSC rows are the mean of the two heads."""
    folds = topic_folds(sets.topics, seed)
    prefeval = sets.tests[("prefeval", "mcq_dev_topics")]
    held_scores = np.zeros(prefeval.candidates.shape[:2], np.float32)
    totals: dict[Key, list[float]] = {}
    for fold in (0, 1):
        model = copy.deepcopy(conversations[0])
        train_rows = np.flatnonzero(folds != fold)
        train_stance(
            model,
            conversations[1],
            prefeval.subset(train_rows),
            validation_users=conversations[2],
            config=replace(STANCE_TRAINING, seed=seed),
        )
        rows = np.flatnonzero(folds == fold)
        held_scores[rows] = score(model, prefeval.subset(rows))
        for (dataset, split), data in sets.tests.items():
            if dataset != "prefeval":
                totals.setdefault(("head_central", dataset, split), []).append(
                    hits_at_1(score(model, data), data.labels)
                )
    result.hits.update({k: float(np.mean(v)) for k, v in totals.items()})
    result.hits[("head_central", "prefeval", "mcq_dev_topics")] = hits_at_1(
        held_scores, prefeval.labels
    )
    result.per_topic["head_central"] = per_topic(held_scores, prefeval, sets.topics)


def _parsed_stance(result: SeedResult, sets: Sets, conversations: RerankingHead, seed: int) -> None:
    """Rows of the parsed stance (models.stance): the stage-1 head given the stance-signed
    persona on every set (``head_stance_input``), the same head trained with it
    (``head_stance_trained``, stage 1 only) and untrained (``head_stance_untrained``: its
    prior, cos + max-cos + the avoided-match term); the seven-feature scorer on PrefEval with
    its hand-set weights and with weights fitted leaving one topic out (each topic scored
    by weights fitted on the other seven)."""
    prefeval = sets.tests[("prefeval", "mcq_dev_topics")]
    signed = sets.signed[("prefeval", "mcq_dev_topics")]
    trained = conversation_head(sets, seed, signed=True)[0]
    untrained = new_head(replace(STANCE_HEAD, stance_input=True), seed=seed)
    for method, model in (
        ("head_stance_input", conversations),
        ("head_stance_trained", trained),
        ("head_stance_untrained", untrained),
    ):
        for (dataset, split), data in sets.signed.items():
            result.hits[(method, dataset, split)] = hits_at_1(score(model, data), data.labels)
        result.per_topic[method] = per_topic(score(model, signed), prefeval, sets.topics)
    if sets.embed is None:
        raise ValueError("the stance scorer needs the sets' encoder (Sets.embed is None)")
    features = stance_features(sets.prefeval_rows, sets.embed)
    held_out = leave_one_topic_out(features, prefeval.labels, sets.topics)
    for method, scores in (
        ("stance_parsed", stance_scores(features)),
        ("stance_parsed_loto", held_out),
    ):
        result.hits[(method, "prefeval", "mcq_dev_topics")] = hits_at_1(scores, prefeval.labels)
        result.per_topic[method] = per_topic(scores, prefeval, sets.topics)


def _stance_stage(result: SeedResult, sets: Sets, head: Scorer) -> None:
    """The stance stage after ``head`` (bench.generalisation_stage): rows on every set."""
    if sets.embed is None:
        raise ValueError("the stance stage needs the sets' encoder (Sets.embed is None)")
    stage = stage_rows(sets.tests, sets.words, sets.topics, head, sets.embed)
    result.hits.update(stage["hits"])
    result.sizes.update(stage["sizes"])
    result.per_topic.update(stage["per_topic"])
    result.config["stance_stage"] = stage["config"]
