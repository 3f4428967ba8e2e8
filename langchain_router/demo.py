"""``prefroute demo``: the offline end-to-end demo of routing, feedback and online learning.

What it runs, with no network and no API key:

1. a routing table: a small synthetic one made on the spot (default), or a real one (``--data DIR``);
2. a pool of :class:`~langchain_router.testing.ReplayChatModel` members, each answering a prompt with
   its recorded outcome and reporting usage priced at the recorded cost;
3. an LCEL chain ``ChatPromptTemplate | RouterChatModel | StrOutputParser`` with a
   :class:`~langchain_router.FeedbackCallbackHandler` storing every routed call in a feedback store;
4. one pass over the training prompts as a stream: each call carries a preference drawn at random
   (users differ), the router answers from a cold start, the "user" rates the answer with the
   recorded quality of the member that answered (only that member's outcome is ever revealed:
   bandit feedback), and the router learns online from each rating;
5. the learning curve (test AIQ after 10%, 25%, 50% and 100% of the stream) and the final frontier
   on the test prompts against every single model.

``--json OUT`` writes the final frontier in the form of a router entry of ``prefroute evaluate``'s
report, plus ``best_single``; ``--plot OUT.png`` writes the Pareto plot and, beside it, the
learning curve (``OUT.learning.png``, the naming rule of every command's extra plots).

A real table is read with the same options and policy as every ``prefroute`` command
(``--on-duplicate``, ``--cache-dir``, the long layout or RouterBench's wide CSV) and shares their
embedding cache files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from shared.cli.tables import LoadedTable
    from shared.encoders import PromptEncoder
    from shared.evaluation import EvaluationReport
    from shared.tables import RoutingTable

__all__ = ["PrecomputedEncoder", "register", "run_demo"]

ROUTER_LABEL = "prefroute (online)"
CHECKPOINTS = (0.1, 0.25, 0.5, 1.0)
#: Resamples of the paired bootstrap of the final frontier against the single models' hull.
BOOTSTRAP_RESAMPLES = 1000


class PrecomputedEncoder:
    """A prompt encoder that serves known texts from a precomputed matrix.

    Texts it has not seen go to the wrapped encoder. The demo embeds a whole table in one batch
    (with an on-disk cache), so each routed call only looks its prompt up.

    Args:
        encoder: the encoder that made ``vectors`` (its ``name`` and ``dimension`` are kept).
        texts: the texts, one per row of ``vectors``.
        vectors: their embeddings, shape ``(len(texts), encoder.dimension)``.
    """

    def __init__(
        self, encoder: PromptEncoder, texts: Sequence[str], vectors: NDArray[np.float32]
    ) -> None:
        self._inner = encoder
        self._rows = {t: i for i, t in enumerate(texts)}
        self._vectors = np.asarray(vectors, dtype=np.float32)

    @property
    def name(self) -> str:
        """The wrapped encoder's name."""
        return self._inner.name

    @property
    def dimension(self) -> int:
        """The wrapped encoder's dimension."""
        return self._inner.dimension

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embeddings of ``texts``: looked up when known, encoded otherwise."""
        rows = [self._rows.get(t) for t in texts]
        missing = [t for t, r in zip(texts, rows) if r is None]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        fresh = iter(self._inner.encode(missing)) if missing else iter(())
        for i, r in enumerate(rows):
            out[i] = self._vectors[r] if r is not None else next(fresh)
        return out


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load_table(args: argparse.Namespace) -> LoadedTable:
    from shared import make_synthetic_table
    from shared.cli.tables import LoadedTable, load_table

    if args.data is not None:
        return load_table(args.data, args.on_duplicate)
    table = make_synthetic_table(n_prompts=args.n_prompts, seed=args.seed)
    return LoadedTable(table, table.prompts, np.arange(table.n_prompts))


def _make_encoder(kind: str, synthetic: bool) -> PromptEncoder:
    from shared import HashingEncoder, SentenceTransformerEncoder

    if kind == "auto":
        kind = "hashing" if synthetic else "minilm"
    if kind == "hashing":
        return HashingEncoder(n_features=512)
    return SentenceTransformerEncoder()


def _make_router(kind: str, seed: int) -> Any:
    from shared import BaRPRouter, LinUCBRouter
    from shared.engine import cold_start_router

    if kind == "ridge":
        # the engine's own cold start; chosen on a held-out part of routerbench_zs' TRAIN
        # prompts with this stream (benchmarks/online_prior.py, see docs/demo.md)
        return cold_start_router(random_state=seed)
    if kind == "barp":
        return BaRPRouter(random_state=seed)
    return LinUCBRouter(exploration_weight=1.0, random_state=seed)


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Run the demo described in the module docstring; returns the JSON document."""
    from shared import FeedbackStore
    from shared.cli.tables import embed_rows, require_splits
    from shared.evaluation import (
        evaluate_routers,
        extra_plot_path,
        plot_learning_curves,
        plot_pareto,
    )

    started = time.perf_counter()
    synthetic = args.data is None
    loaded = _load_table(args)
    complete = loaded.table.observed.all(axis=1)
    table = loaded.table.subset(complete)
    require_splits(table, "train", "test")  # before encoding
    models = list(table.models)
    train, test = table.split("train"), table.split("test")
    kind = "synthetic table (made on the spot)" if synthetic else "table"
    _log(
        f"[demo] {kind} {table.name!r}: {train.n_prompts} training and {test.n_prompts} test "
        f"prompts, {len(models)} models"
    )

    encoder = _make_encoder(args.encoder, synthetic=synthetic)
    vectors = embed_rows(loaded, encoder, args.cache_dir)[complete].astype(np.float32)
    fast_encoder = PrecomputedEncoder(encoder, table.prompts, vectors)
    X_test = fast_encoder.encode(list(test.prompts))

    repeats = int(getattr(args, "repeats", 1))
    seeds = [args.seed + k for k in range(repeats)]
    label = {s: ROUTER_LABEL if repeats == 1 else f"{ROUTER_LABEL}, stream {s}" for s in seeds}
    routers: dict[str, Any] = {}
    curves: dict[str, list[tuple[float, float]]] = {}
    rows: dict[str, list[dict[str, float]]] = {}
    learning = 0.0
    n_rated = 0
    store = FeedbackStore(args.store)
    for k, seed in enumerate(seeds):
        if repeats > 1:
            _log(f"[demo] stream {k + 1} of {repeats} (seed {seed})")
        run = _stream(
            args, seed, store, table, test, X_test, fast_encoder, table.name, f"{k}/" * (k > 0)
        )
        name = label[seed]
        routers[name], curves[name], rows[name] = run.router, run.curve, run.rows
        learning += run.seconds
        n_rated += run.n_rated

    report = evaluate_routers(
        routers,
        X_test,
        test.quality,
        test.cost,
        models,
        dataset=table.name,
        learning_curves=curves,
        bootstrap=BOOTSTRAP_RESAMPLES,
        random_state=args.seed,
        meta={
            "encoder": encoder.name,
            "router": type(routers[label[seeds[0]]]).__name__,
            "seed": args.seed,
            "seeds": seeds,
            "stream": train.n_prompts,
        },
    )
    elapsed = time.perf_counter() - started
    name = f"the synthetic table {table.name!r}" if synthetic else table.name
    _print_summary(report, rows[label[seeds[0]]], learning, n_rated, name, label[seeds[0]])
    if repeats > 1:
        _print_repeats(report, {s: label[s] for s in seeds}, rows)
    if args.plot:
        plot_path = Path(args.plot)
        plot_path.parent.mkdir(parents=True, exist_ok=True)
        title = f"prefroute demo on {name}"
        plot_pareto(report, plot_path, title=title)
        curve_path = extra_plot_path(plot_path, "learning")
        plot_learning_curves(report, curve_path, title=title)
        _log(f"[demo] wrote {plot_path} and {curve_path}")
    full = report.to_dict()
    first = label[seeds[0]]
    doc: dict[str, Any] = {
        "dataset": table.name,
        "n_test": report.n_test,
        "router": full["routers"][first],
        "best_single": full["best_single"],
        "learning_curve": rows[first],
        "synthetic": synthetic,
        "learning_seconds": learning,
        "seconds": elapsed,
    }
    if repeats > 1:
        doc["runs"] = [
            {"seed": s, "router": full["routers"][label[s]], "learning_curve": rows[label[s]]}
            for s in seeds
        ]
        doc["over_runs"] = _over_runs(report, {s: label[s] for s in seeds}, rows)
    if args.json:
        json_path = Path(args.json)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        _log(f"[demo] wrote {json_path}")
    store.close()
    return doc


class _Run:
    """One pass of the stream: the learned router, its learning curve and timings."""

    def __init__(
        self,
        router: Any,
        curve: list[tuple[float, float]],
        rows: list[dict[str, float]],
        seconds: float,
        n_rated: int,
    ) -> None:
        self.router, self.curve, self.rows = router, curve, rows
        self.seconds, self.n_rated = seconds, n_rated


def _stream(
    args: argparse.Namespace,
    seed: int,
    store: Any,
    table: RoutingTable,
    test: RoutingTable,
    X_test: NDArray[np.float32],
    encoder: PrecomputedEncoder,
    dataset: str,
    id_prefix: str,
) -> _Run:
    """Stream the training prompts once through a fresh chain (order, preferences and router
    seeded by ``seed``), rating every answer; the learning curve is measured on the test set."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from shared import Preference
    from shared.evaluation import evaluate_routers

    from .callbacks import FeedbackCallbackHandler
    from .chat_models import RouterChatModel
    from .testing import ReplayChatModel

    rng = np.random.default_rng(seed)
    models = list(table.models)
    train = table.split("train")
    outcomes: dict[str, dict[str, tuple[float, float]]] = {m: {} for m in models}
    for i, prompt in enumerate(table.prompts):
        for j, m in enumerate(models):
            outcomes[m].setdefault(prompt, (float(table.quality[i, j]), float(table.cost[i, j])))
    members = {m: ReplayChatModel(model_name=m, outcomes=outcomes[m]) for m in models}
    router_model = RouterChatModel(
        models=members,
        pool={m: members[m].card() for m in models},
        router=_make_router(args.router, seed),
        encoder=encoder,
        explore=True,
    )
    handler = FeedbackCallbackHandler(store, router=router_model)
    chain = (
        ChatPromptTemplate.from_messages([("human", "{prompt}")]) | router_model | StrOutputParser()
    )

    order = rng.permutation(train.n_prompts)
    marks = {max(1, round(f * len(order))): f for f in CHECKPOINTS}
    curve: list[tuple[float, float]] = []
    curve_rows: list[dict[str, float]] = []
    earned = spent = 0.0
    col = {m: j for j, m in enumerate(models)}
    _log(f"[demo] streaming {len(order)} training prompts through the chain (bandit feedback)")
    learning = 0.0  # routing, rating and learning only: no loading, encoding or evaluating
    for step, i in enumerate(order, start=1):
        w_cost = float(rng.beta(1.0, 1.0))
        pref = Preference(quality=1.0 - w_cost, cost=w_cost)
        request_id = f"{id_prefix}{train.ids[i]}#{step}"
        tick = time.perf_counter()
        chain.invoke(
            {"prompt": train.prompts[i]},
            config={
                "callbacks": [handler],
                "metadata": {"request_id": request_id},
                "configurable": {"router_preference": pref.as_dict()},
            },
        )
        answered = store.get(handler.run_ids(request_id)[-1]).model
        score = float(train.quality[i, col[answered]])
        handler.rate(request_id, score)
        learning += time.perf_counter() - tick
        earned += score
        spent += float(train.cost[i, col[answered]])
        if step in marks:
            engine_router = router_model.routing_engine.router
            assert engine_router is not None
            rep = evaluate_routers(
                {ROUTER_LABEL: engine_router},
                X_test,
                test.quality,
                test.cost,
                models,
                dataset=dataset,
            )
            r = rep.routers[ROUTER_LABEL]
            curve.append((marks[step], r.aiq))
            curve_rows.append(
                {
                    "share": marks[step],
                    "aiq": r.aiq,
                    "anchored_aiq": float(r.anchored_aiq or 0.0),
                    "q_at_cbest": r.q_at_cbest,
                    "hull_aiq": rep.hull.aiq,
                    "q_best": rep.q_best,
                    "mean_reward_so_far": earned / step,
                    "mean_cost_so_far": spent / step,
                }
            )
            _log(
                f"[demo] {marks[step]:>4.0%} of the stream ({step} ratings): test AIQ "
                f"{r.aiq:.4f} (anchored {r.anchored_aiq:.4f}), Q@Cbest {r.q_at_cbest:.4f} "
                f"(hull AIQ {rep.hull.aiq:.4f})"
            )
    engine_router = router_model.routing_engine.router
    assert engine_router is not None
    return _Run(engine_router, curve, curve_rows, learning, len(order))


def _over_runs(
    report: EvaluationReport, labels: dict[int, str], rows: dict[str, list[dict[str, float]]]
) -> dict[str, Any]:
    """Mean and worst over the runs of AIQ - hull and Q@Cbest - best single, per share."""
    out: dict[str, Any] = {"seeds": list(labels)}
    for key, ref in (("aiq_minus_hull", "hull_aiq"), ("q_at_cbest_minus_best", "q_best")):
        value = "aiq" if key == "aiq_minus_hull" else "q_at_cbest"
        per_share = []
        for k, share in enumerate(CHECKPOINTS):
            d = [rows[labels[s]][k][value] - rows[labels[s]][k][ref] for s in labels]
            per_share.append({"share": share, "mean": float(np.mean(d)), "worst": float(min(d))})
        out[key] = per_share
    final = [report.routers[n].aiq - report.hull.aiq for n in labels.values()]
    out["final_aiq_minus_hull"] = {"mean": float(np.mean(final)), "worst": float(min(final))}
    return out


def _print_repeats(
    report: EvaluationReport, labels: dict[int, str], rows: dict[str, list[dict[str, float]]]
) -> None:
    q_best = report.q_best
    print(f"over {len(labels)} stream orders (seeds {', '.join(map(str, labels))})")
    print(
        f"  {'seed':>5}  {'AIQ - hull (95% interval)':<30}  {'Q@Cbest - best (95% interval)':<30}"
    )
    for seed, name in labels.items():
        r = report.routers[name]
        da, dq = r.aiq - report.hull.aiq, r.q_at_cbest - q_best
        ia = iq = ""
        if r.vs_hull is not None:
            (alo, ahi), (qlo, qhi) = r.vs_hull.aiq_interval, r.vs_hull.q_at_cbest_interval
            ia, iq = f" [{alo:+.4f}, {ahi:+.4f}]", f" [{qlo:+.4f}, {qhi:+.4f}]"
        print(f"  {seed:>5}  {da:+.4f}{ia:<22}  {dq:+.4f}{iq:<22}")
    summary = _over_runs(report, labels, rows)
    shares = "".join(f"  {share:>15.0%}" for share in CHECKPOINTS)
    print(f"  {'learning curve, mean (worst)':<30}{shares}")
    for key, title in (
        ("aiq_minus_hull", "AIQ - hull"),
        ("q_at_cbest_minus_best", "Q@Cbest - best"),
    ):
        cells = "".join(f"  {p['mean']:>+7.4f} ({p['worst']:+.4f})" for p in summary[key])
        print(f"  {title:<30}{cells}")
    print()


def _print_summary(
    report: EvaluationReport,
    curve: list[dict[str, float]],
    seconds: float,
    n_rated: int,
    label: str,
    router_label: str = ROUTER_LABEL,
) -> None:
    r = report.routers[router_label]
    best = report.best_single
    print(
        f"\nprefroute demo on {label}: {report.n_test} test prompts, {n_rated} ratings "
        f"learned online in {seconds:.1f} s (routing, rating and learning; loading and "
        "encoding not counted)\n"
    )
    print("learning curve (test set, after each share of the training stream)")
    print(f"  {'share':>6}  {'AIQ':>7}  {'anchored':>8}  {'Q@Cbest':>8}  {'reward so far':>13}")
    for row in curve:
        print(
            f"  {row['share']:>6.0%}  {row['aiq']:>7.4f}  {row['anchored_aiq']:>8.4f}  "
            f"{row['q_at_cbest']:>8.4f}  "
            f"{row['mean_reward_so_far']:>13.4f}"
        )
    print("\nsingle models on the test set")
    print(f"  {'model':<40} {'quality':>8} {'mean cost $':>12}")
    for name, p in sorted(report.single.items(), key=lambda kv: kv[1].cost):
        mark = "  <- best single" if name == best else ""
        print(f"  {name:<40} {p.quality:>8.4f} {p.cost:>12.3e}{mark}")
    print(f"  {'oracle':<40} {report.oracle.quality:>8.4f} {report.oracle.cost:>12.3e}")
    q_best, c_best = report.q_best, report.c_best
    aiq_ci = q_ci = ""
    if r.vs_hull is not None:
        (alo, ahi), (qlo, qhi) = r.vs_hull.aiq_interval, r.vs_hull.q_at_cbest_interval
        aiq_ci = f"; difference 95% interval [{alo:+.4f}, {ahi:+.4f}]"
        q_ci = f", 95% interval [{qlo:+.4f}, {qhi:+.4f}]"
    print(
        f"\nlearned router: AIQ {r.aiq:.4f}, anchored AIQ {r.anchored_aiq:.4f} "
        f"(single models' hull {report.hull.aiq:.4f}{aiq_ci})"
    )
    print(
        f"  at the best single model's cost (${c_best:.3e}): quality {r.q_at_cbest:.4f} "
        f"vs {q_best:.4f} ({r.q_at_cbest - q_best:+.4f}{q_ci})"
    )
    if r.c_at_qbest is None:
        print(f"  the frontier does not reach {best}'s quality {q_best:.4f}")
    else:
        print(
            f"  reaches {best}'s quality at {r.c_at_qbest:.1%} of its cost "
            f"(saving {1 - r.c_at_qbest:.1%})"
        )
    verdict = "above" if r.q_at_cbest > q_best else "not above"
    print(f"  frontier is {verdict} the best single model at its cost\n")


def _handle(args: argparse.Namespace) -> int:
    run_demo(args)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` sub-command to the ``prefroute`` CLI."""
    from shared.cli.args import int_at_least, output_file, store_url
    from shared.cli.tables import add_table_options

    p = subparsers.add_parser(
        "demo",
        help="offline LangChain demo: route, rate, learn online, compare with single models",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_table_options(
        p,
        required=False,
        data_help="routing table: a long-layout folder or a RouterBench wide CSV (default: a "
        "synthetic table made by the demo)",
    )
    p.add_argument(
        "--router",
        choices=("ridge", "linucb", "barp"),
        default="ridge",
        help="core router learning online (default: ridge, the engine's cold-start router: "
        "price priors worth 10 ratings, safe exploration; linucb: LinUCB; barp: BaRP)",
    )
    p.add_argument(
        "--encoder",
        choices=("auto", "minilm", "hashing"),
        default="auto",
        help="prompt encoder (auto: hashing for the synthetic table, MiniLM otherwise)",
    )
    p.add_argument(
        "--n-prompts",
        type=int_at_least(20),
        default=1200,
        help="size of the synthetic table (default 1200)",
    )
    p.add_argument(
        "--store",
        default="sqlite://",
        type=store_url(must_exist=False),
        metavar="URL",
        help="feedback store URL (default: in-memory SQLite)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the synthetic table, the stream order, the users' preferences and the "
        "router (default 0)",
    )
    p.add_argument(
        "--repeats",
        type=int_at_least(1),
        default=1,
        metavar="N",
        help="stream the training prompts N times, with the orders, preferences and routers "
        "of seeds SEED .. SEED+N-1 (the table stays the same), and report each run with the "
        "mean and worst over them (default 1)",
    )
    p.add_argument(
        "--json", default=None, type=output_file, help="write the final frontier as JSON here"
    )
    p.add_argument(
        "--plot",
        default=None,
        metavar="OUT.png",
        type=output_file,
        help="write the Pareto plot (PNG) here, and the learning curve to OUT.learning.png",
    )
    p.set_defaults(func=_handle)
