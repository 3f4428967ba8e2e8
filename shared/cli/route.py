"""``prefroute route`` (alias ``explain``): route one prompt with a saved router, and say why.

Loads a router saved by ``prefroute train`` or ``router.save(DIR)``, encodes the prompt with the
encoder it was trained with (read from ``DIR/training.json`` when ``prefroute train`` wrote it,
else ``--encoder``), decides under ``--preference`` without exploration, and prints
:meth:`shared.Decision.explain`: every candidate's predicted quality (with its standard deviation
when the router has one), cost, utility, and why the winner won.

Examples:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="prefroute")
    >>> register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["route", "--router", ".", "--prompt", "hi", "--preference",
    ...                           "cost=0.3"])
    >>> args.preference
    Preference(quality=0.7, cost=0.3, latency=0)
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from ..exceptions import DimensionMismatchError, RouterError
from ..preference import Preference
from .args import existing_path, int_at_least

__all__ = ["parse_preference", "register", "run"]


def parse_preference(text: str) -> Preference:
    """``balanced`` / ``quality`` / ``cost``, a cost weight in [0, 1] (``0.2``), or weights
    (``quality=0.8,cost=0.2``).

    Examples:
        >>> parse_preference("0.25")
        Preference(quality=0.75, cost=0.25, latency=0)
    """
    value: Any = text.strip()
    if "=" in value:
        weights: dict[str, float] = {}
        for part in value.split(","):
            key, _, number = part.partition("=")
            try:
                weights[key.strip()] = float(number)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{part.strip()!r}: not KEY=NUMBER") from None
        value = weights
    else:
        with contextlib.suppress(ValueError):
            value = float(value)
    try:
        return Preference.coerce(value)
    except RouterError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _encoder(args: argparse.Namespace, trained_with: str | None) -> Any:
    from ..encoders import HashingEncoder
    from ..encoders.named import choice_of, named_encoder

    name = trained_with or ("minilm" if args.encoder is None else args.encoder)
    choice = choice_of(trained_with) if trained_with else args.encoder or "minilm"
    same = choice == args.encoder or (trained_with or "").startswith(f"{args.encoder}:")
    if args.encoder is not None and trained_with and not same:
        raise DimensionMismatchError(
            f"the router was trained with encoder {trained_with} (training.json), not "
            f"--encoder {args.encoder}"
        )
    if name.startswith("hashing"):
        width = name.split(":")[1] if ":" in name else str(args.n_features)
        return HashingEncoder(n_features=int(width.split(":")[0]))
    return named_encoder(choice or "minilm")


def run(args: argparse.Namespace) -> int:
    """Handler of ``prefroute route``; returns the exit code."""
    from dataclasses import replace

    from ..persistence import load_router

    folder = Path(args.router)
    router = load_router(folder)
    sidecar = folder / "training.json"
    trained_with = None
    if sidecar.is_file():
        trained_with = str(json.loads(sidecar.read_text(encoding="utf-8")).get("encoder") or "")
    encoder = _encoder(args, trained_with or None)
    x = encoder.encode([args.prompt])[0]
    if x.shape[0] != router.n_features_in_:
        raise DimensionMismatchError(
            f"{encoder.name} gives {x.shape[0]} features but the router was fitted on "
            f"{router.n_features_in_}; pass the encoder it was trained with (--encoder)"
        )
    decision = router.decide(x, args.preference, explore=False)
    std = getattr(router, "quality_std", None)
    if decision.uncertainty is None and callable(std):
        decision = replace(decision, uncertainty=tuple(float(v) for v in std(x)[0]))
    if args.json:
        print(json.dumps({**decision.to_dict(), "candidates": decision.candidates()}, indent=2))
    else:
        print(decision.explain())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``route`` sub-command (alias ``explain``)."""
    p = subparsers.add_parser(
        "route",
        aliases=["explain"],
        help="route one prompt with a saved router and explain the choice",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "--router",
        required=True,
        type=existing_path,
        metavar="DIR",
        help="folder of a saved router (prefroute train --out DIR, or router.save(DIR))",
    )
    p.add_argument("--prompt", required=True, help="the prompt to route")
    p.add_argument(
        "--preference",
        type=parse_preference,
        default=Preference(),
        metavar="PREF",
        help="quality, balanced or cost; a cost weight in [0, 1] such as 0.2; or weights such "
        "as quality=0.8,cost=0.2 (default: quality)",
    )
    p.add_argument(
        "--encoder",
        choices=("minilm", "hashing", "onnx", "onnx-int8", "model2vec"),
        default=None,
        help="prompt encoder when the folder has no training.json (default: minilm)",
    )
    p.add_argument(
        "--n-features",
        type=int_at_least(1),
        default=384,
        help="width of the hashing encoder (default: 384)",
    )
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(func=run)
