"""``prefroute train`` end to end: SQLite store in tmp_path, hashing encoder, saved router."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from shared import Decision, FeedbackStore, HashingEncoder, Preference, RouterHandle, load_router
from shared.cli.main import main
from shared.encoders import PromptEmbedding
from shared.feedback._db import shown_url

MODELS = ("big", "small")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A store with 40 rated decisions: 'big' is good at math prompts, 'small' at chat."""
    url = f"sqlite:///{tmp_path / 'fb.sqlite3'}"
    rng = np.random.default_rng(0)
    with FeedbackStore(url) as store:
        for i in range(40):
            math_prompt = i % 2 == 0
            model = MODELS[int(rng.integers(2))]
            prompt = f"solve equation {i} integral" if math_prompt else f"chat hello friend {i}"
            other = [m for m in MODELS if m != model]
            d = Decision(
                model=model,
                models=MODELS,
                scores=(0.0, 0.0),
                propensity=0.5,
                preference=Preference(),
                ranking=(model, *other),
                decision_id=f"d{i}",
            )
            store.record_decision(d, prompt=prompt)
            store.record_outcome(f"d{i}", cost_usd=0.01 if model == "big" else 0.001)
            good = (model == "big") == math_prompt
            store.rate(f"d{i}", 0.9 if good else 0.1)
        store.record_decision(
            Decision(
                model="big",
                models=MODELS,
                scores=(0.0, 0.0),
                propensity=1.0,
                preference=Preference(),
                ranking=MODELS,
                decision_id="unrated",
            ),
            prompt="never rated",
        )
    return url


def test_train_ridge_end_to_end(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Training writes a loadable router, a training.json sidecar and a summary."""
    out = tmp_path / "router"
    argv = ["train", "--store", store_url, "--router", "ridge", "--encoder", "hashing"]
    code = main([*argv, "--n-features", "64", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "records used  40" in captured.out and "RidgeRouter" in captured.out
    assert "40/40" in captured.err and "rec/s" in captured.err  # progress with its rate
    assert "embeddings    0 stored reused, 40 encoded" in captured.out
    assert "engine        memory" in captured.out  # 40 rows: "cv" chooses by LOO on the rows
    router = load_router(out)
    assert list(router.models_) == list(MODELS) and router.n_features_in_ == 64
    sidecar = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert sidecar["encoder"] == "hashing:64" and sidecar["records"] == 40
    enc = HashingEncoder(n_features=64)
    picks = router.predict(enc.encode(["solve equation 3 integral", "chat hello friend 7"]))
    assert picks.tolist() == ["big", "small"]


def test_train_from_saved_router_and_handle_reload(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--from retrains a saved router's configuration; a RouterHandle then reloads it."""
    out = tmp_path / "router"
    base = ["train", "--store", store_url, "--encoder", "hashing", "--n-features", "32"]
    assert main([*base, "--router", "barp", "--out", str(out)]) == 0
    handle = RouterHandle(out)
    assert type(handle.router).__name__ == "BaRPRouter"
    with FeedbackStore(store_url) as store:
        store.rate("unrated", 1.0)
    assert main([*base, "--from", str(out), "--out", str(out)]) == 0
    assert "records used  41" in capsys.readouterr().out
    assert handle.reload_if_changed() is True
    assert type(handle.router).__name__ == "BaRPRouter"


def test_train_errors_exit_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty store fails with exit code 1; a missing router choice is a usage error (2)."""
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    FeedbackStore(url).close()
    out = str(tmp_path / "r")
    assert (
        main(["train", "--store", url, "--router", "ridge", "--encoder", "hashing", "--out", out])
        == 1
    )
    assert "no rated decision" in capsys.readouterr().err
    assert main(["train", "--store", url, "--encoder", "hashing", "--out", out]) == 2
    assert "--router NAME or --from DIR" in capsys.readouterr().err
    assert not (tmp_path / "r" / "manifest.json").exists()


def test_train_hides_the_store_password_and_sets_the_file_mode(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """training.json names the store without its password; --file-mode 640 makes every file
    group-readable."""
    given: list[str] = []

    class PasswordStore(FeedbackStore):
        """Opens the test's SQLite file, but stands for a store reached with a password."""

        def __init__(self, url: str) -> None:
            given.append(url)
            super().__init__(store_url)

        @property
        def url(self) -> str:
            return shown_url(given[0])

    monkeypatch.setattr("shared.cli.train.FeedbackStore", PasswordStore)
    secret = "postgresql+psycopg://app:Hunter2secret@db.example/prod?sslpassword=Swordfish9"
    out = tmp_path / "router"
    argv = ["train", "--store", secret, "--router", "ridge", "--encoder", "hashing"]
    assert main([*argv, "--n-features", "16", "--out", str(out), "--file-mode", "640"]) == 0
    text = (out / "training.json").read_text(encoding="utf-8")
    assert "Hunter2secret" not in text and "Swordfish9" not in text
    assert json.loads(text)["store"].startswith("postgresql+psycopg://app:***@db.example/prod")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 4 and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o640}


def test_route_explains_a_trained_router(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """prefroute route reads the encoder from training.json and prints each candidate's predicted
    quality, uncertainty, cost and utility, and why the winner won; --json gives the same."""
    out = tmp_path / "router"
    argv = ["train", "--store", store_url, "--router", "ridge", "--encoder", "hashing"]
    assert main([*argv, "--n-features", "64", "--out", str(out)]) == 0
    capsys.readouterr()
    prompt = "solve equation 3 integral"
    assert main(["route", "--router", str(out), "--prompt", prompt]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("routed to big (preference quality 1.00, cost 0.00")
    assert lines[1].split() == ["model", "quality", "+-", "std", "cost", "$", "utility",
                                "probability"]  # fmt: skip
    assert lines[2].startswith("* big") and lines[3].startswith("  small")
    assert lines[4].startswith("big has the highest utility")
    assert main(["explain", "--router", str(out), "--prompt", prompt, "--json",
                 "--preference", "cost=1"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    rows = {r["model"]: r for r in doc["candidates"]}
    assert doc["model"] == "small" and rows["small"]["chosen"]
    assert all(r["uncertainty"] is not None and r["uncertainty"] >= 0 for r in rows.values())
    assert rows["big"]["cost"] > rows["small"]["cost"]
    assert main(["route", "--router", str(out), "--prompt", prompt, "--encoder", "minilm"]) == 1
    assert "trained with encoder hashing:64" in capsys.readouterr().err


def test_train_refuses_another_encoder_than_the_decisions_were_made_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Decisions carry their encoder's name into the store; training with another encoder fails
    (exit 1) before encoding, unless --allow-encoder-mismatch; decisions without one warn."""
    url = f"sqlite:///{tmp_path / 'fb.sqlite3'}"
    with FeedbackStore(url) as store:
        for i in range(6):
            model = MODELS[i % 2]
            d = Decision(model=model, models=MODELS, scores=(0.0, 0.0), propensity=0.5,
                         preference=Preference(), ranking=(model,), decision_id=f"d{i}",
                         encoder="hashing:64" if i < 4 else "")  # fmt: skip
            store.record_decision(d, prompt=f"prompt {i}")
            store.record_outcome(f"d{i}", cost_usd=0.01)
            store.rate(f"d{i}", 1.0)
        assert store.get("d0").metadata["encoder"] == "hashing:64"
    base = ["train", "--store", url, "--router", "ridge", "--encoder", "hashing"]
    out = str(tmp_path / "r")
    assert main([*base, "--n-features", "32", "--out", out]) == 1
    err = capsys.readouterr().err
    assert "made with encoder hashing:64 (4 decisions), not hashing:32" in err
    assert "[train] encoding" not in err and not (tmp_path / "r").exists()
    assert main([*base, "--n-features", "32", "--out", out, "--allow-encoder-mismatch"]) == 0
    assert "warning: training with hashing:32" in capsys.readouterr().err
    assert main([*base, "--n-features", "64", "--out", out]) == 0
    err = capsys.readouterr().err
    assert "2 decisions do not record their encoder" in err and "training with" not in err


@pytest.mark.parametrize("engine", ["stream", "memory"])
def test_train_engines_reuse_stored_embeddings(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Decisions stored with embeddings of the training encoder are not encoded again."""
    url = f"sqlite:///{tmp_path / 'emb.sqlite3'}"
    enc = HashingEncoder(n_features=8)
    with FeedbackStore(url) as store:
        for i in range(200):
            model = MODELS[i % 2]
            prompt = f"prompt number {i % 17} and {i}"
            d = Decision(
                model=model,
                models=MODELS,
                scores=(0.0, 0.0),
                propensity=1.0,
                preference=Preference(),
                ranking=(model, *(m for m in MODELS if m != model)),
            )
            emb = PromptEmbedding.of(enc.encode([prompt])[0], enc) if i % 4 else None
            store.record_decision(d, prompt=prompt, embedding=emb)
            store.record_outcome(d.decision_id, cost_usd=0.01 * (1 + i % 3))
            store.rate(d.decision_id, (i % 5) / 4)
    out = tmp_path / engine
    argv = [
        "train",
        "--store",
        url,
        "--router",
        "ridge",
        "--encoder",
        "hashing",
        "--n-features",
        "8",
    ]
    code = main([*argv, "--engine", engine, "--chunk-size", "33", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "embeddings    150 stored reused, 50 encoded" in captured.out
    assert f"engine        {engine}" in captured.out
    assert json.loads((out / "training.json").read_text())["encoded"] == 50
    # both engines give the same router
    if engine == "stream":
        other = tmp_path / "memory"
        assert main([*argv, "--engine", "memory", "--out", str(other)]) == 0
        a, b = load_router(out), load_router(other)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    # another encoder is refused, in one line
    code = main([*argv[:-1], "16", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 1 and "made with encoder hashing:8 (150 decisions)" in err
    assert "Traceback" not in err


def test_train_stream_engine_refuses_barp(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """BaRP needs every row: the statistics engines say so instead of training."""
    argv = ["train", "--store", store_url, "--router", "barp", "--encoder", "hashing"]
    code = main([*argv, "--engine", "stream", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "--engine memory" in err  # a usage error, found before any work
