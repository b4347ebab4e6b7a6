"""The layers of the code, checked on its imports.

* The domain modules (the ingest pipeline, the summaries, the reports, the charts) know nothing
  of the web framework: they take plain values and return plain values, so that a command-line
  tool, a WSGI middleware or another framework can use them as they are. Only each package's
  ``includeme`` (its ``__init__``) wires them into Pyramid.
* The write side and the read side are apart: ingest and the summaries (which write) import
  nothing from the reports (which read), and the reports take nothing from the summaries but
  their shared vocabulary (``summaries/dimensions.py``). That the reports never write is checked
  on a database in ``tests/functional/test_reports_read_only.py``.

They may declare the service they provide (``zope.interface.implementer``, with the interfaces of
:mod:`tracking.interfaces`): an interface is a declaration, no framework.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tracking

PACKAGE = Path(tracking.__file__).parent
DOMAIN = sorted(
    [
        *(PACKAGE / "ingest").glob("**/*.py"),
        *(PACKAGE / "summaries").glob("*.py"),
        *(PACKAGE / "reports").glob("*.py"),
        PACKAGE / "timezones.py",
        PACKAGE / "charts.py",
    ],
)
DOMAIN = [path for path in DOMAIN if path.name != "__init__.py" or path.parent.name in ("summaries", "reports", "enrich")]
WEB = ("pyramid", "pyramid_tm", "pyramid_retry", "pyramid_jinja2", "webob", "deform", "zope", "transaction")
#: Allowed although under a package above: interface declarations.
DECLARATIONS = ("zope.interface",)


def _package(module: str) -> str:
    return module if module.startswith(DECLARATIONS) else module.partition(".")[0]


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(_package(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(_package(node.module))
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The modules ``path`` imports, by their full names: ``from ..reports import api`` in
    ``tracking/ingest/store.py`` is ``tracking.reports`` and ``tracking.reports.api``."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def modules_of(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def test_the_domain_modules_are_found():
    names = {f"{path.parent.name}/{path.name}" for path in DOMAIN}
    assert {"ingest/pipeline.py", "enrich/__init__.py", "enrich/geo.py", "ingest/store.py", "summaries/delta.py",
            "summaries/jobs.py", "reports/api.py", "reports/planner.py", "reports/raw_runner.py",
            "reports/summary_runner.py", "reports/export.py"} <= names


@pytest.mark.parametrize("path", DOMAIN, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_domain_modules_import_no_web_framework(path):
    assert not imported_packages(path) & set(WEB)


def test_the_check_sees_an_import_of_the_framework(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "import os\nfrom pyramid.response import Response\nimport webob.request as r\nimport zope.sqlalchemy\n"
        "from zope.interface import implementer\n"
    )
    assert imported_packages(module) & set(WEB) == {"pyramid", "webob", "zope"}


def reads(modules: set[str]) -> set[str]:
    return {name for name in modules if name == "tracking.reports" or name.startswith("tracking.reports.")}


@pytest.mark.parametrize("package", ["ingest", "summaries"])
def test_the_write_side_imports_nothing_from_the_reports(package):
    found = {module_name(path): reads(imported_modules(path)) for path in modules_of(package)}
    assert found and {name: modules for name, modules in found.items() if modules} == {}


@pytest.mark.parametrize("package", ["ingest", "summaries"])
def test_the_write_side_loads_no_report_module_at_all(package):
    """Not even through another module: import every module of the package in a fresh
    interpreter and look at what was loaded."""
    names = [module_name(path) for path in modules_of(package)]
    program = (
        "import sys, warnings\nwarnings.simplefilter('ignore')\n"
        + "".join(f"import {name}\n" for name in names)
        + "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('tracking.reports'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_the_reports_take_only_the_vocabulary_of_the_summaries():
    """Neither the delta nor the rebuild nor the jobs: nothing that writes."""
    taken = {
        module_name(path): {
            name for name in imported_modules(path)
            if name.startswith("tracking.summaries") and not name.startswith("tracking.summaries.dimensions")
        }
        for path in modules_of("reports")
    }
    assert {name: modules for name, modules in taken.items() if modules} == {}


def test_the_import_check_resolves_relative_imports(tmp_path):
    module = PACKAGE / "ingest" / "store.py"
    assert "tracking.summaries.delta" in imported_modules(module)
    assert "tracking.summaries.dimensions.VISIT_DIMENSIONS" in imported_modules(PACKAGE / "ingest" / "visits.py")
    fake = PACKAGE / "ingest" / "__init__.py"
    assert "tracking.ingest.store" in imported_modules(fake)
    assert reads({"tracking.reports.api", "tracking.reporting", "tracking.summaries"}) == {"tracking.reports.api"}
