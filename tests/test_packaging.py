"""The layout and dependency rules of DESIGN.md, checked on the source tree and a built wheel."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import zipfile
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"otel_carbon": "otel_carbon", "processors": "otel_carbon.processors",
           "instrumentations": "otel_carbon.instrumentations", "collector": "otel_carbon.collector"}
# DESIGN: only these files may import processors, instrumentations or collector ...
PYTEST_PLUGIN = "gates/pytest_plugin.py"  # `pytest --carbon` (wiring, like distro)
WIRING_FILES = {"__init__.py", "distro.py", "cli/__init__.py", PYTEST_PLUGIN}
# ... and only these (the set-up, the CLI that runs SDK pipelines, the pytest plugin) the OpenTelemetry SDK.
SDK_WIRING = {"__init__.py", "distro.py", "cli", PYTEST_PLUGIN}


AUDIT_SCRIPT = ROOT / "scripts" / "import_audit.py"
# Modules the host provides at run time, not pip: rotel's agent embeds its own rotel_sdk; the
# pytest plugin (entry point pytest11) is only ever imported by a running pytest.
HOST_PROVIDED = {"rotel_sdk", "pytest"}


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


def _import_targets(path: Path) -> set[str]:
    """Dotted names a file imports, with the imported name appended for ``from X import Y``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_distributions() -> set[str]:
    """Distributions in the base dependencies and every user-facing extra (not ``test``)."""
    project = _pyproject()["project"]
    requirements = list(project["dependencies"])
    for extra, listed in project["optional-dependencies"].items():
        if extra != "test":
            requirements.extend(listed)
    return {_normalise(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requirements}


def _distribution_of(dotted: str) -> str | None:
    """The installed distribution whose files hold the module ``dotted`` (or its longest importable prefix)."""
    candidates = packages_distributions().get(dotted.split(".")[0], [])
    parts = dotted.split(".")
    while parts:
        relative = "/".join(parts)
        for dist in candidates:
            files = [str(f) for f in distribution(dist).files or ()]
            if any(f in (relative + ".py", relative + "/__init__.py") or f.startswith(relative + "/") for f in files):
                return dist
        parts.pop()
    return None


def test_every_third_party_import_is_a_declared_dependency():
    """DESIGN: each optional feature declares what it imports; an import satisfied only by accident fails."""
    declared = _declared_distributions()
    undeclared = []
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            for name in _import_targets(path):
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "otel_carbon" or top in HOST_PROVIDED:
                    continue
                dist = _distribution_of(name)
                if dist is None or _normalise(dist) not in declared:
                    undeclared.append(f"{path.relative_to(ROOT)}: {name} ({dist or 'not installed'})")
    assert not undeclared, "imports without a declared dependency:\n" + "\n".join(sorted(undeclared))


def _load_audit():
    spec = importlib.util.spec_from_file_location("import_audit", AUDIT_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _fake_package(root: Path) -> str:
    """A package with a clean module, an undeclared import, an optional feature naming its extra, a __main__."""
    package = root / "otel_carbon_audit_probe"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "fine.py").write_text("import json\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "undeclared.py").write_text("import no_such_distribution_otel_carbon_probe\n")
    (package / "optional.py").write_text(
        "from otel_carbon._extras import missing_extra\n"
        "try:\n    import no_such_extra_otel_carbon_probe\n"
        "except ModuleNotFoundError as exc:\n    raise missing_extra('collector', exc, 'the probe') from exc\n"
    )
    (package / "__main__.py").write_text("raise SystemExit(3)\n")
    return package.name


def test_import_audit_catches_an_undeclared_import_and_accepts_a_named_extra(tmp_path):
    name = _fake_package(tmp_path)
    result = subprocess.run([sys.executable, str(AUDIT_SCRIPT), name], check=False, capture_output=True, text=True,
                            timeout=120, env={"PYTHONPATH": str(tmp_path), "PATH": ""}, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{name}.sub.undeclared: ModuleNotFoundError" in result.stderr
    assert "no_such_distribution_otel_carbon_probe" in result.stderr
    assert "optional" not in result.stderr and "fine" not in result.stderr and "__main__" not in result.stderr
    assert "1 need an extra (collector)" in result.stdout


def test_import_audit_lists_every_module_and_skips_main(tmp_path):
    sys.path.insert(0, str(tmp_path))
    try:
        name = _fake_package(tmp_path)
        assert _load_audit().module_names(name) == [name, f"{name}.fine", f"{name}.optional", f"{name}.sub",
                                                    f"{name}.sub.undeclared"]
    finally:
        sys.path.remove(str(tmp_path))


def test_every_module_of_the_core_imports_here():
    """(An editable install maps the sibling folders elsewhere: .ci/wheel_smoke audits all of them in the wheel.)"""
    result = _load_audit().audit("otel_carbon")
    assert not result.problems
    assert {"otel_carbon.cli.demo", "otel_carbon.distro", "otel_carbon.intensity.cache"} <= set(result.imported)


def test_optional_modules_name_their_extra():
    from otel_carbon._extras import MissingExtraError, missing_extra

    try:
        import no_such_module_otel_carbon_probe  # noqa: F401
    except ModuleNotFoundError as exc:
        error = missing_extra("collector", exc, "the probe")
    assert isinstance(error, MissingExtraError) and isinstance(error, ImportError)
    assert error.extra == "collector" and error.name == "no_such_module_otel_carbon_probe"
    assert "pip install 'otel-carbon[collector]'" in str(error) and "pip install '.[collector]'" in str(error)


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
        if relative.parts[0] in SDK_WIRING or relative.as_posix() in SDK_WIRING:
            continue
        bad = [name for name in _imports(path) if name.startswith("opentelemetry.sdk")]
        assert not bad, f"{relative} imports {bad}"


def test_instrumentations_never_import_the_sdk():
    for path in (ROOT / "instrumentations").rglob("*.py"):
        bad = [name for name in _imports(path) if name.startswith("opentelemetry.sdk")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


INSTRUMENTATIONS = ROOT / "instrumentations"
NOT_SDKS = {"_shared", "custom"}
SDKS = sorted(p.name for p in INSTRUMENTATIONS.iterdir() if (p / "__init__.py").is_file() and p.name not in NOT_SDKS)
SDK_MODULES = ("__init__.py", "package.py", "patch.py", "extract.py")  # the roles of instrumentations/__init__.py


def _defines(path: Path, name: str) -> bool:
    """Whether ``path`` assigns or defines ``name`` at module level."""
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(node, ast.ClassDef) and node.name == name:
            return True
    return False


def test_there_are_sdk_instrumentations():
    assert {"openai", "litellm", "mistralai", "anthropic"} <= set(SDKS)


@pytest.mark.parametrize("sdk", SDKS)
def test_every_sdk_instrumentation_has_the_four_modules(sdk):
    assert sorted(p.name for p in (INSTRUMENTATIONS / sdk).glob("*.py")) == sorted(SDK_MODULES)
    assert _defines(INSTRUMENTATIONS / sdk / "package.py", "_instruments")


@pytest.mark.parametrize("sdk", SDKS)
def test_no_sdk_instrumentation_imports_another(sdk):
    others = {f"otel_carbon.instrumentations.{other}" for other in SDKS if other != sdk}
    for path in (INSTRUMENTATIONS / sdk).glob("*.py"):
        names = _imports(path) | _import_targets(path)
        crossing = {name for name in names if any(name == o or name.startswith(o + ".") for o in others)}
        assert crossing == set(), f"{path.relative_to(ROOT)} imports {sorted(crossing)}"


@pytest.mark.parametrize("sdk", SDKS)
def test_extractors_wrap_nothing_and_trace_nothing(sdk):
    names = _imports(INSTRUMENTATIONS / sdk / "extract.py") | _import_targets(INSTRUMENTATIONS / sdk / "extract.py")
    assert {n for n in names if n.split(".")[0] in ("wrapt", "opentelemetry")} == set()
    shared = ("wrappers", "stream", "deferred")
    assert not any(n.startswith(tuple(f"otel_carbon.instrumentations._shared.{m}" for m in shared)) for n in names)


def test_every_sdk_instrumentation_is_the_entry_point_of_its_instrumentor():
    targets = _pyproject()["project"]["entry-points"]["opentelemetry_instrumentor"]
    assert sorted(targets) == SDKS
    for sdk, target in targets.items():
        module, _, cls = target.partition(":")
        assert module == f"otel_carbon.instrumentations.{sdk}"
        assert _defines(INSTRUMENTATIONS / sdk / "__init__.py", cls), target


def test_enrichment_function_is_sdk_free():
    assert not [n for n in _imports(ROOT / "processors" / "enrich.py") if n.startswith("opentelemetry")]


@pytest.mark.parametrize("module", ["otel_carbon", "otel_carbon.processors.enrich", "otel_carbon.processors.nesting"])
def test_what_importing_the_light_modules_actually_loads(module):
    """Not what they import directly: every module loaded, transitively (the rotel agent's path)."""
    code = (
        f"import sys, {module};"
        "bad = sorted({m.split('.')[0] + '.' + m.split('.')[1] if m.startswith('opentelemetry.') else m.split('.')[0]"
        " for m in sys.modules if m.startswith(('opentelemetry.sdk', 'httpx', 'ssl', 'grpc', 'google.protobuf',"
        " 'openai', 'anthropic', 'otel_carbon.instrumentations', 'otel_carbon.collector'))});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


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
