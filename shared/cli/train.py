"""``prefroute train``: batch-retrain a router from the feedback store and save it atomically.

Reads the rated decisions of the store, reuses the prompt embeddings stored with them (encoding
only the prompts without a matching one), fits a fresh router and writes it with
:func:`shared.save_router`. Applications following the directory with :class:`shared.RouterHandle`
pick it up without restarting.

Engines (``--engine``): ``stream`` (the default for ridge) reads the store in chunks and sums the
ridge router's sufficient statistics, in memory bounded by one chunk; ``dask`` does the same on a
Dask cluster (``--scheduler ADDRESS``, else a local cluster), one partition of row ids per task;
``memory`` (the default for BaRP and the linear bandits, which need every row) loads the log.

Examples:
    >>> import argparse
    >>> from shared.cli import train
    >>> parser = argparse.ArgumentParser(prog="prefroute")
    >>> train.register(parser.add_subparsers())
    >>> args = parser.parse_args(["train", "--store", "sqlite://", "--router", "ridge", "--out", "r"])
    >>> args.encoder, args.router, args.engine, args.func is train.run
    ('minilm', 'ridge', 'auto', True)
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._base import BaseRouter
from ..capabilities import ColdStarts, FitsBandit, LearnsOnline
from ..exceptions import CapabilityError, InvalidParameterError
from ..feedback import DEFAULT_URL, FeedbackStore, OnlineLearner
from ..feedback._db import shown_url
from ..feedback.training import DEFAULT_CHUNK_SIZE, TrainingPlan, TrainingResult
from .args import existing_path, int_at_least, output_dir, store_url
from .cluster import add_engine_options, resolve_engine

__all__ = ["register", "run", "trainable", "validate"]


def trainable(router: BaseRouter) -> bool:
    """Whether ``router`` can learn from the store's bandit log: :class:`~shared.FitsBandit`, or
    :class:`~shared.ColdStarts` + :class:`~shared.LearnsOnline` (replayed update by update)."""
    return isinstance(router, FitsBandit) or (
        isinstance(router, ColdStarts) and isinstance(router, LearnsOnline)
    )


_SIDECAR = "training.json"

#: ``--engine`` choices besides ``auto``: name -> what it does.
TRAIN_ENGINES = {
    "stream": "chunked sufficient statistics in bounded memory (ridge)",
    "memory": "load the whole log (BaRP, bandits)",
    "dask": "the statistics on a Dask cluster",
}


def _say(message: str) -> None:
    print(f"[train] {message}", file=sys.stderr, flush=True)


def _make_encoder(kind: str, n_features: int) -> Any:
    """The ``--encoder`` encoder (a module-level function: Dask workers call it too)."""
    if kind == "hashing":
        from ..encoders import HashingEncoder

        return HashingEncoder(n_features=n_features)
    from ..encoders.named import named_encoder

    return named_encoder(kind)


def _new_router(args: argparse.Namespace) -> BaseRouter:
    from ..persistence import load_router
    from .evaluate import build_router

    if args.from_dir is not None:
        base = load_router(args.from_dir)
        _say(f"retraining the configuration of {args.from_dir}: {base!r}")
        return base.clone()
    if args.router is None:
        raise InvalidParameterError("prefroute train needs --router or --from.")
    router = build_router(args.router, seed=args.seed)
    if not trainable(router):
        raise CapabilityError(
            f"--router {args.router}: {type(router).__name__} cannot learn from a bandit log "
            "(it is neither FitsBandit nor ColdStarts + LearnsOnline)."
        )
    return router


def _write_sidecar(out: Path, doc: dict[str, Any], mode: int | None) -> None:
    from ..persistence import write_file_atomic

    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, sort_keys=True).encode()
    write_file_atomic(out / _SIDECAR, text, mode=mode)


def _file_mode(text: str) -> int:
    """``--file-mode`` as octal permission bits (``640``, ``0o640``)."""
    try:
        mode = int(text.removeprefix("0o"), 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r}") from None
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"mode must be within 000-777, got {text!r}")
    return mode


def _engine(args: argparse.Namespace, router: BaseRouter) -> str:
    from ..routers import RidgeRouter

    ridge = isinstance(router, RidgeRouter)
    engine = resolve_engine(args, "stream" if ridge else "memory")
    if engine in ("stream", "dask") and not ridge:
        raise InvalidParameterError(
            f"--engine {engine} sums the ridge router's sufficient statistics; "
            f"{type(router).__name__} needs every row at once and trains in memory on one "
            "machine (from the stored embeddings): use --engine memory."
        )
    return engine


def _bar(desc: str) -> Any:
    def start(total: int) -> Any:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="rec", file=sys.stderr, mininterval=1.0)
        return bar.update

    return start


def _warn_encoders(plan: TrainingPlan, encoder: Any) -> None:
    """Say which decisions were made with another encoder (allowed) or do not say."""
    name = encoder.name
    others = sorted(plan.mismatched(encoder))
    if others:
        _say(f"warning: training with {name} on decisions made with {others} (encoded again)")
    if plan.unknown_encoder:
        _say(
            f"warning: {plan.unknown_encoder} decisions do not record their encoder; make sure "
            "--encoder is the one the application routes with"
        )


def _train(
    args: argparse.Namespace, router: BaseRouter, encoder: Any, engine: str
) -> TrainingResult:
    from ..feedback.training import LogReader, fit_ridge_streaming, read_log
    from ..routers import RidgeRouter

    options: dict[str, Any] = {
        "chunk_size": args.chunk_size,
        "reencode_mismatched": args.reencode_mismatched,
    }
    with FeedbackStore(args.store) as store:
        _say(f"reading rated decisions from {store.url} ({engine} engine)")
        reader = LogReader(store, encoder, **options)
        plan = reader.plan()  # EncoderMismatchError here, before any encoding
        _warn_encoders(plan, encoder)
        options["plan"] = plan
        if engine == "stream":
            assert isinstance(router, RidgeRouter)  # _engine() refused every other router
            return fit_ridge_streaming(
                router,
                store,
                encoder,
                progress=_bar("train"),
                **options,
            )
        if engine == "dask":
            from ..feedback.distributed import fit_ridge_dask

            assert isinstance(router, RidgeRouter)
            return fit_ridge_dask(
                router,
                store,
                functools.partial(_make_encoder, args.encoder, args.n_features),
                scheduler=args.scheduler,
                partitions=args.partitions,
                progress=_bar("train"),
                **options,
            )
        tick = _bar("read")(plan.rows) if plan.rows else None
        log, X, encoded = read_log(reader, progress=tick)
    _say(f"fitting {type(router).__name__}")
    OnlineLearner(router, encoder).fit_log(router, log, X=X if len(log) else None)
    return TrainingResult(
        router, len(log), encoded, tuple(log.models), tuple(sorted(set(log.chosen))), "memory"
    )


def validate(args: argparse.Namespace) -> None:
    """One of ``--router`` / ``--from``, a router that can learn from a bandit log, and an
    ``--engine`` that can train it."""
    if args.router is None and args.from_dir is None:
        raise InvalidParameterError("prefroute train needs --router NAME or --from DIR.")
    if args.from_dir is None:
        # an unknown or untrainable --router, or one the engine cannot train, fails here
        _engine(args, _new_router(args))


def run(args: argparse.Namespace) -> int:
    """Handler of ``prefroute train``; returns the exit code."""
    from ..persistence import save_router

    start = time.perf_counter()
    router = _new_router(args)
    engine = _engine(args, router)
    encoder = _make_encoder(args.encoder, args.n_features)
    result = _train(args, router, encoder, engine)
    out = Path(args.out)
    elapsed = time.perf_counter() - start
    _write_sidecar(
        out,
        {
            "router": type(router).__name__,
            "encoder": encoder.name,
            "engine": result.engine,
            "records": result.rows,
            "encoded": result.encoded,
            "models": list(result.models),
            "store": shown_url(args.store),  # password and secret query parameters hidden
            "trained_at": datetime.now(UTC).isoformat(),
        },
        args.file_mode,
    )
    save_router(router, out, mode=args.file_mode)
    _say(f"saved to {out}")
    print(f"records used  {result.rows}")
    print(
        f"models seen   {len(result.answered)} answered ({', '.join(result.answered)}); "
        f"{len(result.models)} in the pool"
    )
    print(f"router        {type(router).__name__}")
    print(f"encoder       {encoder.name}")
    print(f"embeddings    {result.reused} stored reused, {result.encoded} encoded")
    print(f"engine        {result.engine}")
    print(f"time          {elapsed:.2f} s")
    print(f"saved to      {out}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train",
        help="retrain a router from the feedback store",
        description="Batch-retrain a router on the rated decisions of a feedback store and "
        "save it (atomically) to a directory that running applications can reload.",
    )
    parser.add_argument(
        "--store",
        default=DEFAULT_URL,
        type=store_url(must_exist=True),
        metavar="URL",
        help=f"feedback store URL, e.g. sqlite:///feedback.sqlite3 (default: {DEFAULT_URL})",
    )
    parser.add_argument(
        "--router",
        help="router to train: ridge, barp, linucb, thompson, egreedy, or any router name of "
        "prefroute evaluate that learns from a bandit log",
    )
    parser.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        type=existing_path,
        help="retrain the class and parameters of this saved router instead of --router",
    )
    parser.add_argument(
        "--encoder",
        choices=("minilm", "hashing", "onnx", "onnx-int8", "model2vec"),
        default="minilm",
        help="prompt encoder; must match the application's (default: minilm; onnx, onnx-int8 "
        "and model2vec need the prefroute[onnx] / prefroute[model2vec] extras)",
    )
    parser.add_argument(
        "--n-features",
        type=int_at_least(1),
        default=384,
        help="width of the hashing encoder (default: 384)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the router's own randomness (default: 0)"
    )
    add_engine_options(
        parser,
        TRAIN_ENGINES,
        partitions_help="ranges of the log by row id (default: 4 per worker)",
        auto_help="dask with --scheduler, else stream for ridge, memory otherwise",
    )
    parser.add_argument(
        "--chunk-size",
        type=int_at_least(1),
        default=DEFAULT_CHUNK_SIZE,
        help=f"rows read per query (default: {DEFAULT_CHUNK_SIZE})",
    )
    parser.add_argument(
        "--reencode-mismatched",
        "--allow-encoder-mismatch",
        dest="reencode_mismatched",
        action="store_true",
        help="encode again the prompts whose stored embedding comes from another encoder "
        "(default: refuse to train)",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=output_dir,
        metavar="DIR",
        help="folder to save the trained router to (created if missing)",
    )
    parser.add_argument(
        "--file-mode",
        type=_file_mode,
        default=None,
        metavar="OCTAL",
        help="permissions of the files written, e.g. 640 for group-readable "
        "(default: 666 minus the umask)",
    )
    parser.set_defaults(func=run, validate=validate)
