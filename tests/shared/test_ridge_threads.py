"""RidgeRouter.decide() while learner.rate() updates it from other threads (the one-process
pattern): decisions see whole updates, and no update is lost from the cached weights."""

from __future__ import annotations

import copy
import pickle
import threading
from typing import Any

import numpy as np
import pytest

from shared import Decision, FeedbackStore, HashingEncoder, OnlineLearner, Preference, RidgeRouter
from shared.routers import _linear

MODELS = ["a", "b", "c"]
N_FEATURES = 48


def _router() -> RidgeRouter:
    return RidgeRouter(alpha=1.0).initialize(MODELS, N_FEATURES)


def _updates(n: int) -> list[tuple[np.ndarray, str, float]]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, N_FEATURES))
    return [(X[i], MODELS[i % 3], float(rng.uniform())) for i in range(n)]


def test_decisions_during_updates_lose_no_update() -> None:
    """4 threads update while 4 threads decide: every decision is finite and the final
    weights equal those of the same updates applied in one thread."""
    updates = _updates(600)
    router = _router()
    probe = np.random.default_rng(8).normal(size=(5, N_FEATURES))
    stop = threading.Event()
    errors: list[BaseException] = []

    def learn(part: list[tuple[np.ndarray, str, float]]) -> None:
        try:
            for x, model, q in part:
                router.update(x, model, q, 0.01)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    def decide() -> None:
        try:
            while not stop.is_set():
                for d in router.decide_batch(probe, Preference(quality=1, cost=1)):
                    assert np.isfinite(d.scores).all()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    deciders = [threading.Thread(target=decide) for _ in range(4)]
    learners = [threading.Thread(target=learn, args=(updates[w::4],)) for w in range(4)]
    for t in deciders + learners:
        t.start()
    for t in learners:
        t.join()
    stop.set()
    for t in deciders:
        t.join()
    assert not errors, errors
    sequential = _router()
    for x, model, q in updates:
        sequential.update(x, model, q, 0.01)
    np.testing.assert_allclose(
        router.decision_function(probe), sequential.decision_function(probe), atol=1e-9
    )


def test_an_update_during_a_solve_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic interleaving: a decision pauses inside the re-solve of a head (after its
    statistics were read) while another thread updates that head. Without the router's lock
    the decision then marks the head clean with weights that miss the update."""
    real = _linear.cho_factor
    solving, updated = threading.Event(), threading.Event()

    def paused_factor(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if threading.current_thread().name == "decider" and not solving.is_set():
            solving.set()
            updated.wait(timeout=1.0)  # with the lock the update waits for us instead
        return out

    monkeypatch.setattr(_linear, "cho_factor", paused_factor)
    (x0, _, q0), (x1, _, q1) = _updates(2)[0], _updates(5)[3]
    router, sequential = _router(), _router()
    probe = np.ones((1, N_FEATURES))
    for r in (router, sequential):
        r.update(x0, "a", q0, 0.01)
    sequential.update(x1, "a", q1, 0.01)
    router.decision_function(probe)  # every head clean
    router.update(x0, "a", q0, 0.01)
    sequential.update(x0, "a", q0, 0.01)  # head "a" dirty again

    def update() -> None:
        router.update(x1, "a", q1, 0.01)
        updated.set()

    decider = threading.Thread(target=router.decision_function, args=(probe,), name="decider")
    decider.start()
    assert solving.wait(timeout=5)
    updater = threading.Thread(target=update)
    updater.start()
    decider.join()
    updater.join()
    np.testing.assert_allclose(
        router.decision_function(probe), sequential.decision_function(probe), atol=1e-9
    )


def test_learner_rate_while_routing_with_learner_router() -> None:
    """The documented one-process pattern: learner.rate() in threads, learner.router routing
    in others; the router ends up with every rating."""
    encoder = HashingEncoder(n_features=N_FEATURES)
    with FeedbackStore("sqlite://") as store:
        learner = OnlineLearner(_router(), encoder, store=store)
        prompts = [f"prompt number {i} about topic {i % 7}" for i in range(120)]
        for i, prompt in enumerate(prompts):
            d = Decision(
                model=MODELS[i % 3],
                models=tuple(MODELS),
                scores=(0.0, 0.0, 0.0),
                propensity=1.0,
                preference=Preference(),
                ranking=(MODELS[i % 3], *(m for m in MODELS if m != MODELS[i % 3])),
                decision_id=f"d{i}",
            )
            store.record_decision(d, prompt=prompt)
        X = encoder.encode(prompts[:8])
        stop = threading.Event()
        errors: list[BaseException] = []

        def rate(ids: range) -> None:
            try:
                for i in ids:
                    learner.rate(f"d{i}", (i % 10) / 10)
            except BaseException as err:  # pragma: no cover
                errors.append(err)

        def route() -> None:
            try:
                while not stop.is_set():
                    learner.router.decide_batch(X)
            except BaseException as err:  # pragma: no cover
                errors.append(err)

        routers = [threading.Thread(target=route) for _ in range(3)]
        raters = [threading.Thread(target=rate, args=(range(w, 120, 3),)) for w in range(3)]
        for t in routers + raters:
            t.start()
        for t in raters:
            t.join()
        stop.set()
        for t in routers:
            t.join()
        assert not errors, errors
        assert isinstance(learner.router, RidgeRouter)
        assert learner.router.n_observations_.sum() == 120


def test_router_with_lock_copies_and_pickles() -> None:
    """The lock is not part of the state: deepcopy and pickle still work."""
    router = _router()
    router.update(np.ones(N_FEATURES), "a", 1.0, 0.01)
    probe = np.ones((1, N_FEATURES))
    for again in (copy.deepcopy(router), pickle.loads(pickle.dumps(router))):
        again.update(np.ones(N_FEATURES), "b", 0.5, 0.01)
        assert again.decision_function(probe).shape == (1, 3)
