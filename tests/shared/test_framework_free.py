"""The core stays framework-free: no LangChain or LlamaIndex import, directly or at run time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "shared"
FORBIDDEN = ("langchain", "langchain_core", "llama_index", "langchain_router", "llamaindex_router")


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    """The import scanner flags plain, from- and importlib imports (the guard can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import langchain_core\nfrom llama_index.core import x\n"
        "import importlib\nimportlib.import_module('langchain_router')\n",
        encoding="utf-8",
    )
    assert {"langchain_core", "llama_index", "langchain_router"} <= _imported_roots(bad)


def test_core_sources_import_no_framework() -> None:
    """No module under shared/ imports a framework or an adapter."""
    offenders = {
        str(p.relative_to(CORE)): sorted(_imported_roots(p) & set(FORBIDDEN))
        for p in CORE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_whole_core_loads_no_framework() -> None:
    """Importing every public name of shared leaves langchain and llama_index unloaded."""
    code = (
        "import sys, shared\n"
        "for name in shared.__all__:\n"
        "    try:\n"
        "        getattr(shared, name)\n"
        "    except (ImportError, AttributeError):\n"
        "        pass\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == ""


def test_every_logger_is_named_under_prefroute() -> None:
    """Each getLogger call of the core and the adapters names a literal ``prefroute.*`` logger,
    so that ``logging.getLogger("prefroute")`` configures all of them."""
    root = CORE.parent
    bad = []
    for package in ("shared", "langchain_router", "llamaindex_router"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "getLogger":
                    arg = node.args[0] if node.args else None
                    name = arg.value if isinstance(arg, ast.Constant) else None
                    if not (isinstance(name, str) and name.split(".")[0] == "prefroute"):
                        bad.append(f"{path.relative_to(root)}:{node.lineno}")
    assert bad == []
