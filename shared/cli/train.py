"""``prefroute train``: batch-retrain a router from the feedback store and save it atomically.

Reads the rated decisions of the store (its bandit log), encodes their prompts, fits a fresh
router with ``fit_bandit`` and writes it with :func:`shared.save_router`. Applications following
the directory with :class:`shared.RouterHandle` pick it up without restarting.

Examples:
    >>> import argparse
    >>> from shared.cli import train
    >>> parser = argparse.ArgumentParser(prog="prefroute")
    >>> train.register(parser.add_subparsers())
    >>> args = parser.parse_args(["train", "--store", "sqlite://", "--router", "ridge", "--out", "r"])
    >>> args.encoder, args.router, args.func is train.run
    ('minilm', 'ridge', True)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._base import BaseRouter
from ..capabilities import ColdStarts, FitsBandit, LearnsOnline
from ..exceptions import CapabilityError, InvalidParameterError
from ..feedback import DEFAULT_URL, FeedbackStore, OnlineLearner
from .args import existing_path, int_at_least, output_dir, store_url

__all__ = ["register", "run", "trainable", "validate"]


def trainable(router: BaseRouter) -> bool:
    """Whether ``router`` can learn from the store's bandit log: :class:`~shared.FitsBandit`, or
    :class:`~shared.ColdStarts` + :class:`~shared.LearnsOnline` (replayed update by update)."""
    return isinstance(router, FitsBandit) or (
        isinstance(router, ColdStarts) and isinstance(router, LearnsOnline)
    )


_SIDECAR = "training.json"
_BATCH = 256


def _say(message: str) -> None:
    print(f"[train] {message}", file=sys.stderr, flush=True)


def _encoder(args: argparse.Namespace) -> Any:
    if args.encoder == "hashing":
        from ..encoders import HashingEncoder

        return HashingEncoder(n_features=args.n_features)
    from ..encoders import default_encoder

    return default_encoder()


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


def _encode(encoder: Any, prompts: list[str]) -> NDArray[np.float64]:
    from ..encoders.disk import encode_in_chunks

    _say(f"encoding {len(prompts)} prompts with {encoder.name}")
    X = encode_in_chunks(prompts, encoder, chunk_size=_BATCH, desc="[train] encoding")
    return np.asarray(X, dtype=np.float64)


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


def validate(args: argparse.Namespace) -> None:
    """One of ``--router`` / ``--from``, and a router that can learn from a bandit log."""
    if args.router is None and args.from_dir is None:
        raise InvalidParameterError("prefroute train needs --router NAME or --from DIR.")
    if args.from_dir is None:
        _new_router(args)  # an unknown or untrainable --router fails here, before any work


def _check_encoder(store: FeedbackStore, name: str, *, allow: bool) -> None:
    """Refuse (unless ``allow``) to train with another encoder than the decisions were made with;
    warn about decisions that do not say (recorded by an older prefroute)."""
    seen = Counter(str(r.metadata.get("encoder") or "") for r in store.records(rated_only=True))
    others = {enc: n for enc, n in seen.items() if enc and enc != name}
    if others and not allow:
        found = ", ".join(f"{enc} ({n} decisions)" for enc, n in sorted(others.items()))
        raise InvalidParameterError(
            f"the store's decisions were made with encoder {found}, not {name}: a router trained "
            "on other embeddings routes badly; pick the matching --encoder (and --n-features), "
            "or pass --allow-encoder-mismatch"
        )
    if others:
        _say(f"warning: training with {name} on decisions made with {sorted(others)}")
    if seen.get(""):
        _say(
            f"warning: {seen['']} decisions do not record their encoder; make sure --encoder is "
            "the one the application routes with"
        )


def run(args: argparse.Namespace) -> int:
    """Handler of ``prefroute train``; returns the exit code."""
    from ..persistence import save_router

    start = time.perf_counter()
    router = _new_router(args)
    encoder = _encoder(args)
    with FeedbackStore(args.store) as store:
        _say(f"reading rated decisions from {store.url}")
        log = store.export_bandit_log()
        shown_url = store.url  # password and secret query parameters hidden
        _check_encoder(store, encoder.name, allow=args.allow_encoder_mismatch)
    _say(f"{len(log)} rated decisions with a prompt, {log.n_models} models")
    learner = OnlineLearner(router, encoder)
    X = _encode(encoder, list(log.prompts)) if len(log) else None
    _say(f"fitting {type(router).__name__}")
    learner.fit_log(router, log, X=X)
    out = Path(args.out)
    elapsed = time.perf_counter() - start
    _write_sidecar(
        out,
        {
            "router": type(router).__name__,
            "encoder": encoder.name,
            "records": len(log),
            "models": list(log.models),
            "store": shown_url,
            "trained_at": datetime.now(UTC).isoformat(),
        },
        args.file_mode,
    )
    save_router(router, out, mode=args.file_mode)
    _say(f"saved to {out}")
    seen = sorted(set(log.chosen))
    print(f"records used  {len(log)}")
    print(f"models seen   {len(seen)} answered ({', '.join(seen)}); {log.n_models} in the pool")
    print(f"router        {type(router).__name__}")
    print(f"encoder       {encoder.name}")
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
        choices=("minilm", "hashing"),
        default="minilm",
        help="prompt encoder; must match the application's (default: minilm)",
    )
    parser.add_argument(
        "--allow-encoder-mismatch",
        action="store_true",
        help="train even if the store's decisions were made with another encoder",
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
