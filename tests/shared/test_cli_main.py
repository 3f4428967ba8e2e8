"""The prefroute entry point: help, sub-command discovery, error handling."""

from __future__ import annotations

import pytest

from shared.cli.main import build_parser, main


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a sub-command the CLI prints help and exits with 2."""
    assert main([]) == 2
    assert "usage: prefroute" in capsys.readouterr().out


def test_every_documented_command_is_registered() -> None:
    """evaluate, assign, train (core) and demo (LangChain plug-in) are available."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"evaluate", "assign", "train", "route", "explain", "demo"} <= set(sub.choices)  # type: ignore[arg-type]


def test_router_errors_become_messages(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """A RouterError is reported on stderr with exit code 1, not a traceback."""
    code = main(["evaluate", "--data", str(tmp_path)])
    assert code == 1
    assert "prefroute evaluate: error:" in capsys.readouterr().err
