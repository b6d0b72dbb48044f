"""The layout and dependency rules of DESIGN.md, checked on the source tree and a built wheel."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"otel_carbon": "otel_carbon", "processors": "otel_carbon.processors",
           "instrumentations": "otel_carbon.instrumentations", "collector": "otel_carbon.collector"}
# DESIGN: only these files may import processors, instrumentations or collector ...
WIRING_FILES = {"__init__.py", "distro.py", "cli/__init__.py"}
# ... and only these (the set-up, and the CLI that runs SDK pipelines) the OpenTelemetry SDK.
SDK_WIRING = {"__init__.py", "distro.py", "cli"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _packages_on_disk() -> set[str]:
    found = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in relative.parts:
                continue
            found.add(".".join([package, *relative.parts]) if relative.parts else package)
    return found


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    assert _packages_on_disk() == listed


def test_core_imports_no_subpackage_except_in_wiring_files():
    forbidden = ("otel_carbon.processors", "otel_carbon.instrumentations", "otel_carbon.collector")
    for path in (ROOT / "otel_carbon").rglob("*.py"):
        relative = path.relative_to(ROOT / "otel_carbon")
        if relative.as_posix() in WIRING_FILES:
            continue
        bad = [name for name in _imports(path) if name.startswith(forbidden)]
        assert not bad, f"{relative} imports {bad}"


def test_core_never_imports_the_sdk_outside_wiring():
    for path in (ROOT / "otel_carbon").rglob("*.py"):
        relative = path.relative_to(ROOT / "otel_carbon")
        if relative.parts[0] in SDK_WIRING:
            continue
        bad = [name for name in _imports(path) if name.startswith("opentelemetry.sdk")]
        assert not bad, f"{relative} imports {bad}"


def test_instrumentations_never_import_the_sdk():
    for path in (ROOT / "instrumentations").rglob("*.py"):
        bad = [name for name in _imports(path) if name.startswith("opentelemetry.sdk")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_enrichment_function_is_sdk_free():
    assert not [n for n in _imports(ROOT / "processors" / "enrich.py") if n.startswith("opentelemetry")]


def test_importing_the_core_pulls_in_neither_sdk_nor_subpackages():
    code = (
        "import sys, otel_carbon, otel_carbon.sci, otel_carbon.footprint, otel_carbon.energy, otel_carbon.intensity;"
        "bad = [m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'otel_carbon.processors',"
        " 'otel_carbon.instrumentations', 'otel_carbon.collector'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lazy_exports_resolve():
    import otel_carbon

    assert otel_carbon.CarbonSpanProcessor.__name__ == "CarbonSpanProcessor"
    assert callable(otel_carbon.configure)
    with pytest.raises(AttributeError):
        otel_carbon.no_such_name  # noqa: B018


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True, timeout=300, capture_output=True,
    )
    return next(out.glob("otel_carbon-*.whl"))


def test_wheel_installs_everything_under_one_import_root(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"otel_carbon"}
    for required in ("otel_carbon/py.typed", "otel_carbon/processors/span_processor.py",
                     "otel_carbon/data/models.json", "otel_carbon/data/grid_intensity.csv",
                     "otel_carbon/data/SOURCES.md"):
        assert required in names


def test_console_script_is_declared():
    assert _pyproject()["project"]["scripts"]["otel-carbon"] == "otel_carbon.cli:main"
