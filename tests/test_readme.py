"""The README's quickstart runs as pasted, its install lines name real extras, and every link of
the README and docs/ resolves inside the repository.

Each python block of README.md is tagged on the line before it: ``<!-- readme-test: offline -->``
blocks run as they are and must print what their comments show; ``<!-- readme-test: provider -->``
blocks run with the real provider clients against the local OpenAI-compatible server of
``tests/openai_server.py`` (pointed at by the clients' own environment variables).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from shared.cli.main import main
from tests.doc_examples import expected_output
from tests.openai_server import OpenAIServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TAGGED = re.compile(r"(?:<!-- readme-test: (\w+) -->\n)?```python\n(.*?)```", re.DOTALL)


def _blocks(kind: str) -> list[str]:
    found = TAGGED.findall(README.read_text(encoding="utf-8"))
    assert all(tag for tag, _ in found), "every python block of README.md carries a test tag"
    return [code for tag, code in found if tag == kind]


def _run(code: str, namespace: dict[str, object]) -> list[str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, str(README), "exec"), namespace)
    return buffer.getvalue().splitlines()


def test_offline_quickstart_runs_as_pasted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both offline blocks run in a fresh namespace and print exactly what they show; then the
    command-line block trains a router from the stored rating and explains a decision."""
    monkeypatch.chdir(tmp_path)
    blocks = _blocks("offline")
    assert len(blocks) == 2
    for code in blocks:
        assert _run(code, {}) == expected_output(code), code
    assert (tmp_path / "feedback.sqlite3").is_file()  # the rating was stored where it says
    cli = re.search(r"<!-- readme-test: cli -->\n```bash\n(.*?)```", README.read_text(), re.DOTALL)
    assert cli is not None
    lines = [line for line in cli.group(1).splitlines() if line.strip()]
    assert [line.split()[:2] for line in lines] == [["prefroute", "train"], ["prefroute", "route"]]
    capsys.readouterr()
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, (line, capsys.readouterr().err)
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(("mini has the highest utility", "gpt-4o has the highest utility"))
    assert any(line.startswith("routed to ") for line in out)


def test_provider_quickstart_runs_against_a_local_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: OpenAIServer
) -> None:
    """The provider blocks, as pasted, reach the OpenAI API of the local server (no key needed
    beyond the variable the README names)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.url)  # the openai client
    monkeypatch.setenv("OPENAI_API_BASE", openai_server.url)  # LlamaIndex's OpenAI
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    blocks = _blocks("provider")
    assert len(blocks) == 2
    for code in blocks:
        before = openai_server.count()
        printed = _run(code, {})
        assert openai_server.count() == before + 1, code
        asked = openai_server.requests_for()[-1].body["model"]
        assert asked in {"gpt-4o", "gpt-4o-mini"}
        assert printed and asked in printed[-1]  # the server's default reply names the model


def test_install_lines_name_real_extras() -> None:
    """Every ``pip install ".[extra]"`` of the README is an extra of pyproject.toml."""
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"])  # fmt: skip
    named = re.findall(r'pip install "\.\[([\w,-]+)\]"', README.read_text(encoding="utf-8"))
    assert named
    for group in named:
        assert set(group.split(",")) <= extras, group


def _docs() -> list[Path]:
    return [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", _docs(), ids=lambda p: p.name)
def test_every_link_resolves_inside_the_repository(page: Path) -> None:
    """Relative links point to files of the repository; no page refers to files outside it
    (the development data folder, the team guides)."""
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        resolved = (page.parent / target.split("#", 1)[0]).resolve()
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        assert ROOT in resolved.parents or resolved == ROOT, f"{page.name}: {target} is outside"
    for outside in ("../shared/data", "/work/", "guides/"):
        assert outside not in text, f"{page.name} refers to {outside!r}, outside the repository"


def test_offline_block_needs_no_provider_package() -> None:
    """The offline quickstart imports no provider client."""
    for code in _blocks("offline"):
        assert "openai" not in code.lower()
    assert "langchain_openai" in "".join(_blocks("provider"))


def test_tables_page_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/tables.md's export-your-own-logs example runs and prints what it shows."""
    from tests.doc_examples import run_doc_examples

    monkeypatch.chdir(tmp_path)
    run_doc_examples("tables.md", min_blocks=1)
    assert (tmp_path / "my_app_table" / "outcomes.csv").is_file()


def test_ci_runs_the_readme_commands_and_names_its_scripts() -> None:
    """.ci/run runs the README's test command (which runs the set-up command first), every
    script it runs is named in the README, and the lowest langchain-core it tests is
    pyproject's lower bound, as the README says."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    scripts = re.findall(r"bash (scripts/[\w.-]+\.sh)", ci)
    assert scripts == ["scripts/start-postgres.sh", "scripts/test.sh", "scripts/test-lowest.sh"]
    assert "```bash\nbash scripts/test.sh\n```" in readme
    assert "bash scripts/setup.sh" in (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "bash scripts/setup.sh &&" in readme
    for script in scripts:
        assert f"bash {script}" in readme, script
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "langchain-core>=1.7,<2" in deps["dependencies"]
    assert "(`langchain-core>=1.7,<2`: 1.7.0)" in readme
