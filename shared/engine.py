"""The routing facade the framework adapters call: text in, :class:`~shared.Decision` out.

:class:`RoutingEngine` owns everything an adapter must not: encoding the conversation, choosing the
candidates that can serve a call (tools, structured output, context window), the cold start when the
router has no data yet, and online learning from ratings. Both plugins call the same engine, so the
same prompt, preference and router state give the same decision through either framework.

Cold start: without a fitted router the engine starts a :class:`~shared.RidgeRouter` whose
quality heads are a proper prior. Each member's mean quality starts at ``prior_quality`` when given,
else at a prior that rises with price (0.5 for the cheapest model to 0.8 for the priciest; "you get
what you pay for" until data says otherwise), and that prior counts as
:data:`DEFAULT_PRIOR_STRENGTH` ratings: a member's mean is ``(strength * prior + sum of its
ratings) / (strength + n)``, so one rating moves it by ``1 / (1 + strength)`` of the gap. Per-prompt
deviations from the member mean (one shared by every member, one per member) are ridge
regressions on the embedding, shrunk to zero. Its exploration is ``"safe"``: it samples only
members whose optimistic utility under the call's preference reaches the best, keeps the call's
expected regret within :data:`DEFAULT_MAX_REGRET`, and logs the propensity.

Costs compare like with like: a call's cost is each card's price times the call's known input
tokens plus a predicted completion length (:class:`~shared.CallCostModel`: the card's
``expected_output_tokens`` shrunk with observed usage), for every candidate alike, whatever the
router would predict.

Latency: when a card has ``latency_s``, the cold-start router also starts per-member latency
heads from the cards (a card without one gets the others' mean) and :meth:`RoutingEngine.learn`
updates them with measured latencies, so a preference's latency weight is scored; with no card
latency (and a router that never learned latencies) such a preference raises
:class:`~shared.ObjectiveError`.

Examples:
    >>> from shared import HashingEncoder, ModelCard, RoutingEngine
    >>> engine = RoutingEngine(
    ...     [ModelCard("big", input_usd_per_1m=10, output_usd_per_1m=30),
    ...      ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4)],
    ...     encoder=HashingEncoder(n_features=32), explore=False)
    >>> engine.route("What is 2 + 2?", {"quality": 1.0}).model
    'big'
    >>> engine.route("What is 2 + 2?", {"cost": 0.9}).model
    'small'
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._base import BaseRouter
from ._validation import check_task
from .capabilities import LearnsOnline, ensure_ready, latency_kwargs, task_kwargs
from .costs import CallCostModel
from .decision import Decision
from .embedding import PromptEmbedding
from .exceptions import InvalidParameterError, UnknownModelError
from .pool import ModelCard, ModelPool
from .preference import Preference, PreferenceLike

if TYPE_CHECKING:
    from .encoders import PromptEncoder
    from .feedback.records import DecisionRecord
    from .routers.ridge import RidgeRouter
    from .tables import RoutingTable

__all__ = [
    "DEFAULT_MAX_REGRET",
    "DEFAULT_PRIOR_STRENGTH",
    "DEFAULT_TASK_STRENGTH",
    "RoutingEngine",
    "cold_start_router",
    "estimate_tokens",
]

#: Pseudo-ratings behind each member's prior mean quality in the default cold-start router.
DEFAULT_PRIOR_STRENGTH = 10.0
#: Pseudo-ratings behind the member level in each (member, task) level of the default router:
#: one rating in a task moves that task's prediction by 1/(1 + strength) of the gap.
DEFAULT_TASK_STRENGTH = 5.0
#: Expected utility the default router's exploration may give up per call (quality points at
#: a pure-quality preference).
DEFAULT_MAX_REGRET = 0.05
#: Ridge penalty of the default router's per-member prompt deviations.
DEFAULT_ALPHA = 30.0
#: Ridge penalty of the default router's prompt deviation shared by every member.
DEFAULT_POOLED_ALPHA = 10.0
#: Standard errors of evidence the default router's guard asks for before leaving the prior's
#: favourite member at a price, and before deciding prompt by prompt there.
DEFAULT_GUARD_MARGIN = 1.0

logger = logging.getLogger("prefroute.engine")


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (about four characters per token), for pricing and context checks.

    Examples:
        >>> estimate_tokens("abcdefgh")
        2
    """
    return max(1, (len(text) + 3) // 4)


def cold_start_router(random_state: int | None = None) -> RidgeRouter:
    """The router :class:`RoutingEngine` starts when given none (unfitted; the engine
    initializes it from the cards' priors).

    Chosen on a held-out fifth of routerbench_zs' train prompts with the demo's stream
    (``benchmarks/online_prior.py``; see docs/demo.md): member means worth
    :data:`DEFAULT_PRIOR_STRENGTH` ratings, a prompt deviation shared by every member
    (``pooled_alpha``) plus strongly shrunk per-member deviations, safe exploration.

    Examples:
        >>> cold_start_router().get_params()["exploration"]
        'safe'
    """
    from .routers.ridge import RidgeRouter

    return RidgeRouter(
        alpha=DEFAULT_ALPHA,
        prior_strength=DEFAULT_PRIOR_STRENGTH,
        pooled_alpha=DEFAULT_POOLED_ALPHA,
        task_strength=DEFAULT_TASK_STRENGTH,
        exploration="safe",
        exploration_weight=1.0,
        max_regret=DEFAULT_MAX_REGRET,
        guard=True,
        guard_margin=DEFAULT_GUARD_MARGIN,
        solver="sherman_morrison",
        random_state=random_state,
    )


class RoutingEngine:
    """Route conversations of a pool with a core router; learn from ratings.

    Args:
        pool: the model cards (a :class:`~shared.ModelPool` or an iterable of cards / names).
        router: a core router; fitted on the pool's model names, or unfitted with an
            ``initialize`` method (cold start), or ``None`` for the default cold-start router.
        encoder: prompt encoder; default :func:`shared.default_encoder` (cached MiniLM), loaded
            lazily at the first call.
        default_preference: preference used when a call gives none.
        prior_quality: prior quality in [0, 1] per model name for the cold start.
        explore: let the router explore (UCB bonus, sampling policy) when it is configured to.
        nominal_input_tokens: prompt length used to turn card prices into prior costs.
        output_prior_strength: weight of each card's ``expected_output_tokens`` in the learned
            completion length, in observed calls (see :class:`~shared.CallCostModel`).

    Attributes:
        cost_model: the :class:`~shared.CallCostModel` pricing each call for every candidate.

    Raises:
        InvalidParameterError: a prior is outside [0, 1] or names an unknown model.
    """

    def __init__(
        self,
        pool: ModelPool | Iterable[ModelCard | str],
        *,
        router: BaseRouter | None = None,
        encoder: PromptEncoder | None = None,
        default_preference: PreferenceLike | None = None,
        prior_quality: Mapping[str, float] | None = None,
        explore: bool = True,
        nominal_input_tokens: int = 500,
        output_prior_strength: float = 10.0,
    ) -> None:
        self.pool = pool if isinstance(pool, ModelPool) else ModelPool(pool)
        self._encoder = encoder
        self.router = router
        self.default_preference = Preference.coerce(
            default_preference if default_preference is not None else Preference()
        )
        self.prior_quality = dict(prior_quality or {})
        for name, value in self.prior_quality.items():
            if name not in self.pool:
                raise UnknownModelError(name, self.pool.names)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise InvalidParameterError(
                    f"prior_quality[{name!r}] must be a number in [0, 1], got {value!r}."
                )
        self.explore = explore
        self.nominal_input_tokens = nominal_input_tokens
        self.cost_model = CallCostModel(self.pool, prior_strength=output_prior_strength)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ parts
    @property
    def encoder(self) -> PromptEncoder:
        """The prompt encoder (the default cached MiniLM is created on first use)."""
        if self._encoder is None:
            from .encoders import default_encoder

            self._encoder = default_encoder()
        return self._encoder

    def embed(self, text: str) -> NDArray[np.float64]:
        """The embedding of one prompt text, shape ``(dimension,)``."""
        return np.asarray(self.encoder.encode([text])[0], dtype=np.float64)

    def _priors(self) -> tuple[dict[str, float], dict[str, float]]:
        cards = list(self.pool)
        costs = {c.name: c.expected_cost(self.nominal_input_tokens) for c in cards}
        order = sorted(costs, key=lambda n: (costs[n], n))
        span = max(len(order) - 1, 1)
        quality = {name: 0.5 + 0.3 * rank / span for rank, name in enumerate(order)}
        quality.update({k: float(v) for k, v in self.prior_quality.items()})
        return quality, costs

    def _ready_router(self, n_features: int, *, online: bool = False) -> BaseRouter:
        with self._lock:
            if self.router is None:
                self.router = cold_start_router()
            prior_q, prior_c = self._priors()
            return ensure_ready(
                self.router,
                list(self.pool.names),
                n_features,
                prior_quality=prior_q,
                prior_cost=prior_c,
                prior_latency=self._latency_priors(),
                online=online,
            )

    def _latency_priors(self) -> dict[str, float] | None:
        """The cards' ``latency_s`` (a card without one gets the mean of the others); ``None``
        when no card has a latency: the cold-start router then refuses a latency weight."""
        known = {c.name: float(c.latency_s) for c in self.pool if c.latency_s is not None}
        if not known:
            return None
        mean = sum(known.values()) / len(known)
        return {name: known.get(name, mean) for name in self.pool.names}

    def candidates(
        self,
        *,
        needs_tools: bool = False,
        needs_structured_output: bool = False,
        input_tokens: int | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[str]:
        """Names of the pool members able to serve a call, in pool order.

        Raises:
            UnknownModelError: ``allowed`` names a model outside the pool.
            InvalidParameterError: no member qualifies (the message says why).
        """
        if allowed is not None:
            for name in allowed:
                if name not in self.pool:
                    raise UnknownModelError(name, self.pool.names)
        known = (
            set(self.router.models_) if self.router is not None and self.router.is_fitted else None
        )
        out = []
        for card in self.pool:
            if allowed is not None and card.name not in allowed:
                continue
            if needs_tools and not card.supports_tools:
                continue
            if needs_structured_output and not card.supports_structured_output:
                continue
            if (
                input_tokens is not None
                and card.context_window is not None
                and input_tokens > card.context_window
            ):
                continue
            if known is not None and card.name not in known:
                continue
            out.append(card.name)
        if not out:
            needs = [
                what
                for what, flag in (
                    ("tool calling", needs_tools),
                    ("structured output", needs_structured_output),
                    (f"a context of {input_tokens} tokens", input_tokens is not None),
                )
                if flag
            ]
            raise InvalidParameterError(
                "No model in the pool can serve this call"
                + (f" (needs {', '.join(needs)})" if needs else "")
                + (f" among {sorted(allowed)}" if allowed is not None else "")
                + "."
            )
        return out

    # ------------------------------------------------------------------ routing
    def route(
        self,
        text: str,
        preference: PreferenceLike | None = None,
        *,
        needs_tools: bool = False,
        needs_structured_output: bool = False,
        input_tokens: int | None = None,
        allowed: Collection[str] | None = None,
        decision_id: str | None = None,
        task: str | None = None,
    ) -> Decision:
        """Decide which member answers ``text`` (a prompt or a rendered conversation).

        Args:
            text: the prompt; render conversations with :func:`shared.messages_to_text`.
            preference: the trade-off for this call; ``None`` uses ``default_preference``.
            needs_tools: only members that support tool calling.
            needs_structured_output: only members that support structured output.
            input_tokens: prompt size, to exclude members whose context window is too small
                (estimated from ``text`` when ``None``).
            allowed: restrict to these members (e.g. stickiness within a tool loop).
            decision_id: use this id for the decision.
            task: the call's task key (chain or node name, template id...): the router adds
                what it learned of each member on that task (the default router's task level;
                a task never rated routes at the member level) and ``Decision.task`` records
                it, so the call's rating teaches that task. ``None``: no task.

        Returns:
            The decision; ``decision.ranking`` lists the fallbacks in order.

        Raises:
            InvalidParameterError: ``task`` is not ``None`` or a short string.
        """
        pref = self.default_preference if preference is None else Preference.coerce(preference)
        task = check_task(task)
        x = self.embed(text)
        tokens = estimate_tokens(text) if input_tokens is None else input_tokens
        needs: dict[str, Any] = {
            "needs_tools": needs_tools,
            "needs_structured_output": needs_structured_output,
            "input_tokens": tokens,
        }
        return self._decide(x, pref, needs, allowed, decision_id, task)

    def _decide(
        self,
        x: NDArray[np.float64],
        pref: Preference,
        needs: Mapping[str, Any],
        allowed: Collection[str] | None,
        decision_id: str | None,
        task: str | None = None,
    ) -> Decision:
        with self._lock:
            router = self._ready_router(x.shape[0])
            cands = self.candidates(**needs, allowed=allowed)
            known = list(router.models_)
            cost = None
            if self.cost_model.priced(cands) and all(m in self.pool for m in known):
                cost = self.cost_model.predict(known, int(needs["input_tokens"]))
            decision = router.decide(
                x,
                pref,
                candidates=cands,
                explore=self.explore,
                decision_id=decision_id,
                cost=cost,
                task=task,
            )
        # the feedback store keeps the vector with the record, so a retrain need not re-encode
        embedding = PromptEmbedding.of(x, self.encoder)
        return dataclasses.replace(decision, encoder=self.encoder.name, embedding=embedding)

    def route_sticky(
        self,
        text: str,
        owner: str,
        preference: PreferenceLike | None = None,
        *,
        needs_tools: bool = False,
        needs_structured_output: bool = False,
        input_tokens: int | None = None,
        fallback: bool = True,
        decision_id: str | None = None,
        task: str | None = None,
    ) -> tuple[Decision, bool]:
        """Keep a conversation (or a tool loop) on ``owner``, the member of the previous turn.

        The rule both framework adapters follow:

        * if ``owner`` can still serve the call, the decision is
          ``route(text, ..., allowed=[owner])``: ``owner`` chosen with propensity 1.0 (it was
          not drawn from the routing policy); with ``fallback``, the other candidates follow it
          in ``ranking``, in the order a normal route over them gives (same decision id), so a
          failure of ``owner`` before any output is served by them;
        * if ``owner`` is no longer a candidate (capabilities, context window, unknown to the
          router), the call is routed normally over the candidates and is not sticky.

        Args:
            text: the prompt or rendered conversation.
            owner: the pool member the conversation is pinned to.
            preference: the trade-off for this call; ``None`` uses ``default_preference``.
            needs_tools: only members that support tool calling.
            needs_structured_output: only members that support structured output.
            input_tokens: prompt size (estimated from ``text`` when ``None``).
            fallback: append the other candidates to the ranking as fallbacks.
            decision_id: use this id for the decision.
            task: the call's task key (see :meth:`route`).

        Returns:
            ``(decision, sticky)``; ``sticky`` is ``False`` when ``owner`` could not serve.

        Raises:
            UnknownModelError: ``owner`` is not in the pool.

        Examples:
            >>> from shared import HashingEncoder, ModelCard, RoutingEngine
            >>> engine = RoutingEngine([ModelCard("big", input_usd_per_1m=10),
            ...                         ModelCard("small", input_usd_per_1m=0.1)],
            ...                        encoder=HashingEncoder(n_features=32), explore=False)
            >>> decision, sticky = engine.route_sticky("and now?", "small", {"quality": 1.0})
            >>> decision.model, decision.propensity, decision.ranking, sticky
            ('small', 1.0, ('small', 'big'), True)
        """
        if owner not in self.pool:
            raise UnknownModelError(owner, self.pool.names)
        pref = self.default_preference if preference is None else Preference.coerce(preference)
        task = check_task(task)
        x = self.embed(text)
        needs: dict[str, Any] = {
            "needs_tools": needs_tools,
            "needs_structured_output": needs_structured_output,
            "input_tokens": estimate_tokens(text) if input_tokens is None else input_tokens,
        }
        try:
            pinned = self._decide(x, pref, needs, [owner], decision_id, task)
        except InvalidParameterError as err:
            logger.info("not sticking to %r, routing normally: %s", owner, err)
            return self._decide(x, pref, needs, None, decision_id, task), False
        if not fallback:
            return pinned, True
        others = [name for name in self.candidates(**needs) if name != owner]
        if not others:
            return pinned, True
        backup = self._decide(x, pref, needs, others, pinned.decision_id, task)
        return dataclasses.replace(pinned, ranking=(owner, *backup.ranking)), True

    def set_router(self, router: BaseRouter) -> None:
        """Swap in another router (e.g. one retrained by ``prefroute train``) between calls.

        Thread-safe: calls in flight finish with the old router, later calls use the new one.

        Raises:
            InvalidParameterError: the new router is fitted on models outside the pool.
        """
        if router.is_fitted:
            unknown = sorted(set(router.models_) - set(self.pool.names))
            if unknown:
                raise InvalidParameterError(
                    f"The new router knows models outside the pool: {unknown}."
                )
        with self._lock:
            self.router = router

    def fit_table(
        self,
        table: RoutingTable,
        *,
        router: BaseRouter | None = None,
        split: str | None = "train",
    ) -> BaseRouter:
        """Batch-train a router on a routing table (every model's outcome per prompt) and use it.

        The prompts are encoded with the engine's encoder. Without ``router`` the engine trains
        the default batch router, :class:`~shared.AutoRouter` (a choice among the project's
        routers on validation splits of the table's rows, with a constant-choice guard; see
        ``docs/concepts.md``). A router that takes task labels gets the table's tasks.

        Args:
            table: the routing table; its models must be in the pool.
            router: an unfitted router with ``fit(X, quality, cost, *, models)``; default
                ``AutoRouter()``.
            split: train on the rows of this split only; ``None`` uses every row.

        Returns:
            The fitted router, now the engine's router.

        Raises:
            DataError: no row in ``split``.
            InvalidParameterError: the table names models outside the pool.
        """
        from .exceptions import DataError

        unknown = sorted(set(table.models) - set(self.pool.names))
        if unknown:
            raise InvalidParameterError(f"The table names models outside the pool: {unknown}.")
        if split is not None:
            rows = np.array([s == split for s in table.splits], dtype=bool)
            if not rows.any():
                raise DataError(f"The table has no {split!r} rows.")
            table = table.subset(rows)
        if router is None:
            from .routers import AutoRouter

            router = AutoRouter()
        X = np.asarray(self.encoder.encode(list(table.prompts)), dtype=np.float64)
        fit = getattr(router, "fit")  # noqa: B009 - every router class defines its own fit
        if getattr(router, "fit_accepts_tasks", False):
            fit(X, table.quality, table.cost, models=list(table.models), tasks=list(table.tasks))
        else:
            fit(X, table.quality, table.cost, models=list(table.models))
        self.set_router(router)
        return router

    def estimate_cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """USD cost of a call of ``model`` from its card and token counts."""
        return self.pool[model].cost(input_tokens, output_tokens)

    def learn(
        self,
        prompt: str,
        model: str,
        score: float,
        cost: float | None = None,
        *,
        propensity: float = 1.0,
        preference: PreferenceLike | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        latency: float | None = None,
        task: str | None = None,
    ) -> None:
        """Update the router online with one rated outcome (thread-safe).

        ``latency`` (seconds of the call) teaches a router that learns latency (the default
        ridge, when a card has ``latency_s``) the member's latency. ``task`` (the call's task
        key) teaches a :class:`~shared.capabilities.LearnsTasks` router (the default ridge) the
        member's level on that task; other routers learn the outcome without it.

        The call's completion length (``output_tokens`` from its usage, else the length its
        ``cost`` implies with ``input_tokens``, estimated from ``prompt`` when ``None``) also
        teaches :attr:`cost_model` the member's output length.

        Raises:
            InvalidParameterError: ``score`` outside [0, 1], a bad propensity, token count or
                task key.
        """
        if not 0.0 <= float(score) <= 1.0:
            raise InvalidParameterError(f"A score must be in [0, 1], got {score!r}.")
        if not 0.0 < float(propensity) <= 1.0:
            raise InvalidParameterError(f"A propensity must be in (0, 1], got {propensity!r}.")
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidParameterError(f"'{name}' must be an int, got {value!r}.")
        task = check_task(task)
        x = self.embed(prompt)
        with self._lock:
            router = self._ready_router(x.shape[0], online=True)
            assert isinstance(router, LearnsOnline)
            router.update(
                x,
                model,
                float(score),
                cost,
                propensity=float(propensity),
                preference=None if preference is None else Preference.coerce(preference),
                **latency_kwargs(router, latency),
                **task_kwargs(router, task),
            )
            if model in self.pool:
                self.cost_model.observe(
                    model,
                    output_tokens=output_tokens,
                    cost=cost,
                    input_tokens=estimate_tokens(prompt) if input_tokens is None else input_tokens,
                )

    def learn_record(self, record: DecisionRecord) -> None:
        """:meth:`learn` from a rated feedback record: its prompt, model, score and cost, the
        preference and task of the call and :attr:`~shared.DecisionRecord.learning_propensity` (1.0 when
        a fallback answered instead of the chosen model).

        Raises:
            InvalidParameterError: the record has no prompt or no rating, or :meth:`learn`
                refuses it.
        """
        if record.prompt is None or record.score is None:
            raise InvalidParameterError(
                f"Decision {record.decision_id} needs its prompt and a rating to be learned from."
            )
        self.learn(
            record.prompt,
            record.model,
            record.score,
            record.cost_usd,
            propensity=record.learning_propensity,
            preference=record.preference,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            latency=record.latency_s,
            task=record.task,
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (pool, router, preference) for logs and tracing."""
        return {
            "models": list(self.pool.names),
            "router": type(self.router).__name__ if self.router is not None else None,
            "fitted": bool(self.router is not None and self.router.is_fitted),
            "default_preference": self.default_preference.as_dict(),
        }
