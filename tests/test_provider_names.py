"""``gen_ai.provider.name`` values have one home, :mod:`otel_carbon.semconv`: instrumentations name the
``PROVIDER_*`` constants and never spell a provider name as a string literal (issue #12)."""

from __future__ import annotations

import ast
from pathlib import Path

from otel_carbon import semconv as sc

ROOT = Path(__file__).resolve().parent.parent
#: Provider value → the semconv constant that holds it.
CONSTANTS = {value: name for name, value in vars(sc).items() if name.startswith("PROVIDER_") and isinstance(value, str)}


def _not_provider_names(tree: ast.AST) -> set[int]:
    """ids of the string constants that equal a provider name by coincidence: dict keys (another
    library's own names, e.g. LiteLLM's provider prefixes), the package an instrumentor patches
    (``_module = "openai"``, ``importlib.import_module("ollama")``) and docstrings."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            allowed.update(id(key) for key in node.keys if key is not None)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_module" for t in node.targets):
            allowed.add(id(node.value))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module":
            allowed.update(id(arg) for arg in node.args)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            allowed.add(id(node.value))
    return allowed


def literal_provider_names(source: str) -> list[tuple[int, str]]:
    """(line, value) of each string literal in ``source`` that spells a semconv provider name."""
    tree = ast.parse(source)
    allowed = _not_provider_names(tree)
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value in CONSTANTS and id(node) not in allowed
    )


def test_semconv_names_each_provider_once() -> None:
    names = [name for name, value in vars(sc).items() if name.startswith("PROVIDER_") and isinstance(value, str)]
    assert len(names) == len(CONSTANTS), "two PROVIDER_* constants hold the same value"
    assert sc.LOCAL_PROVIDERS <= CONSTANTS.keys()


def test_the_check_sees_a_provider_literal() -> None:
    """The scan below can fail: a literal in a call, a table value or an assignment is found;
    LiteLLM's names as map keys and the patched package's name are not."""
    source = (
        'PROVIDER = "ollama"\n'
        'request_from_call("chat", "anthropic", client, kwargs)\n'
        'HOSTS = (("api.groq.com", "groq"),)\n'
        'MAP = {"xai": "x_ai", "openai": sc.PROVIDER_OPENAI}\n'
        '_module = "openai"\n'
        'importlib.import_module("ollama")\n'
    )
    assert literal_provider_names(source) == [(1, "ollama"), (2, "anthropic"), (3, "groq"), (4, "x_ai")]


def test_instrumentations_write_provider_names_from_semconv() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r} (use semconv.{CONSTANTS[value]})"
        for path in sorted((ROOT / "instrumentations").rglob("*.py"))
        for line, value in literal_provider_names(path.read_text())
    ]
    assert not found, "provider names spelled as literals:\n" + "\n".join(found)
