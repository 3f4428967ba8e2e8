"""A small synthetic routing table with a known structure, for the offline demo and for tests.

Four made-up models with distinct strengths over six topics, priced like a real pool (a 60x price
spread). Prompts are generated from per-topic vocabularies, so even the hashing encoder separates the
topics, and each outcome is a Bernoulli draw of the model's skill on the topic. A good router learns to
send poetry to the cheap poet and code to the mid-priced coder, and beats the priciest generalist at its
own cost; the true skills are returned so tests can check what was learned.

Examples:
    >>> from shared.synthetic import make_synthetic_table
    >>> table = make_synthetic_table(n_prompts=60, seed=0)
    >>> table.models
    ('atlas-xl', 'coder-m', 'poet-s', 'tiny')
    >>> table.quality.shape, sorted(set(table.splits))
    ((60, 4), ['test', 'train'])
"""

from __future__ import annotations

import numpy as np

from .exceptions import InvalidParameterError
from .pool import ModelCard, ModelPool
from .tables import RoutingTable

__all__ = ["SYNTHETIC_CARDS", "SYNTHETIC_SKILLS", "TOPICS", "make_synthetic_table"]

TOPICS: tuple[str, ...] = (
    "arithmetic",
    "python",
    "poetry",
    "history",
    "translation",
    "chemistry",
)

_VOCAB: dict[str, tuple[str, ...]] = {
    "arithmetic": (
        "sum",
        "multiply",
        "divide",
        "fraction",
        "percent",
        "equation",
        "integer",
        "remainder",
        "square root",
        "average",
    ),
    "python": (
        "function",
        "list comprehension",
        "dictionary",
        "recursion",
        "class",
        "exception",
        "generator",
        "unit test",
        "decorator",
        "string slicing",
    ),
    "poetry": (
        "sonnet",
        "haiku",
        "rhyme",
        "metaphor",
        "stanza",
        "moonlight",
        "autumn leaves",
        "longing",
        "ocean waves",
        "limerick",
    ),
    "history": (
        "empire",
        "revolution",
        "treaty",
        "dynasty",
        "medieval",
        "pharaoh",
        "senate",
        "crusade",
        "colonial",
        "renaissance",
    ),
    "translation": (
        "translate",
        "French",
        "Spanish",
        "German",
        "idiom",
        "phrase",
        "grammar",
        "formal register",
        "sentence",
        "Italian",
    ),
    "chemistry": (
        "molecule",
        "reaction",
        "acid",
        "electron",
        "covalent bond",
        "oxidation",
        "periodic table",
        "catalyst",
        "isotope",
        "molar mass",
    ),
}

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "arithmetic": (
        "Compute the {a} and the {b} for the numbers {n} and {m}.",
        "Solve this {a} problem step by step: what is the {b} of {n} and {m}?",
    ),
    "python": (
        "Write a Python {a} that uses a {b} to process {n} items.",
        "Fix the bug in this Python {a}; it raises an {b} on input {n}.",
    ),
    "poetry": (
        "Write a {a} about {b} in {n} lines.",
        "Compose a short {a} with a {b} about the sea, {n} verses.",
    ),
    "history": (
        "Explain the causes of the {a} and its {b} around year {n}.",
        "Who led the {a} during the {b}, and what happened in {n}?",
    ),
    "translation": (
        "Please {a} this sentence into {b}: 'the train leaves at {n}'.",
        "Give the {b} version of this {a} in a {n}-word sentence.",
    ),
    "chemistry": (
        "Describe the {a} between the {b} and water at {n} degrees.",
        "Balance this {a} and name the {b}; use {n} moles.",
    ),
}

#: Probability that each model answers a prompt of each topic correctly (rows follow ``TOPICS``).
SYNTHETIC_SKILLS: dict[str, tuple[float, ...]] = {
    "atlas-xl": (0.92, 0.90, 0.86, 0.90, 0.88, 0.90),
    "coder-m": (0.90, 0.93, 0.35, 0.55, 0.50, 0.70),
    "poet-s": (0.20, 0.25, 0.90, 0.60, 0.88, 0.30),
    "tiny": (0.45, 0.20, 0.30, 0.45, 0.40, 0.25),
}

#: Prices of the synthetic pool (USD per 1M tokens); a 60x spread like real pools.
SYNTHETIC_CARDS: tuple[ModelCard, ...] = (
    ModelCard("atlas-xl", input_usd_per_1m=10.0, output_usd_per_1m=30.0),
    ModelCard("coder-m", input_usd_per_1m=1.0, output_usd_per_1m=3.0),
    ModelCard("poet-s", input_usd_per_1m=0.3, output_usd_per_1m=0.9),
    ModelCard("tiny", input_usd_per_1m=0.15, output_usd_per_1m=0.5),
)


def make_synthetic_table(
    n_prompts: int = 1200, *, test_share: float = 0.3, seed: int = 0
) -> RoutingTable:
    """Generate the synthetic routing table.

    Args:
        n_prompts: number of prompts (spread evenly over the topics).
        test_share: share of prompts in the ``test`` split (the rest is ``train``).
        seed: random seed; the same seed gives the same table.

    Returns:
        A full-information :class:`~shared.RoutingTable` named ``"synthetic"`` whose tasks are
        the topics and whose cards carry the prices.

    Raises:
        InvalidParameterError: fewer prompts than topics or a test share outside (0, 1).
    """
    if n_prompts < len(TOPICS):
        raise InvalidParameterError(f"n_prompts must be at least {len(TOPICS)}, got {n_prompts}.")
    if not 0.0 < test_share < 1.0:
        raise InvalidParameterError(f"test_share must be in (0, 1), got {test_share}.")
    rng = np.random.default_rng(seed)
    models = tuple(SYNTHETIC_SKILLS)
    cards = {c.name: c for c in SYNTHETIC_CARDS}
    ids, prompts, tasks = [], [], []
    quality = np.empty((n_prompts, len(models)))
    cost = np.empty((n_prompts, len(models)))
    for i in range(n_prompts):
        t = i % len(TOPICS)
        topic = TOPICS[t]
        vocab = _VOCAB[topic]
        a, b = rng.choice(len(vocab), size=2, replace=False)
        template = _TEMPLATES[topic][int(rng.integers(len(_TEMPLATES[topic])))]
        text = template.format(
            a=vocab[a], b=vocab[b], n=int(rng.integers(2, 99)), m=int(rng.integers(2, 99))
        )
        ids.append(f"syn.{i}")
        prompts.append(text)
        tasks.append(topic)
        in_tokens = max(1, len(text) // 4)
        for j, model in enumerate(models):
            quality[i, j] = float(rng.random() < SYNTHETIC_SKILLS[model][t])
            out_tokens = int(rng.integers(80, 320))
            cost[i, j] = cards[model].cost(in_tokens, out_tokens)
    order = rng.permutation(n_prompts)
    n_test = max(1, round(test_share * n_prompts))
    splits = np.array(["train"] * n_prompts, dtype=object)
    splits[order[:n_test]] = "test"
    return RoutingTable(
        ids=tuple(ids),
        prompts=tuple(prompts),
        tasks=tuple(tasks),
        splits=tuple(str(s) for s in splits),
        models=models,
        quality=quality,
        cost=cost,
        cards=ModelPool(SYNTHETIC_CARDS),
        name="synthetic",
    )
