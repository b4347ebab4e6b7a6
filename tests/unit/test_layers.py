"""The domain modules (the ingest pipeline, the stats queries, the charts) know nothing of the
web framework: they take plain values and return plain values, so that a command-line tool, a
WSGI middleware or another framework can use them as they are. Only each package's
``includeme`` (its ``__init__``) wires them into Pyramid.

They may declare the service they provide (``zope.interface.implementer``, with the interfaces of
:mod:`tracking.interfaces`): an interface is a declaration, no framework."""

import ast
from pathlib import Path

import pytest

import tracking

PACKAGE = Path(tracking.__file__).parent
DOMAIN = sorted(
    [*(PACKAGE / "ingest").glob("**/*.py"), *(PACKAGE / "stats").glob("*.py"), PACKAGE / "charts.py"],
)
DOMAIN = [path for path in DOMAIN if path.name != "__init__.py" or path.parent.name in ("stats", "enrich")]
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


def test_the_domain_modules_are_found():
    names = {f"{path.parent.name}/{path.name}" for path in DOMAIN}
    assert {"ingest/pipeline.py", "enrich/__init__.py", "enrich/geo.py", "ingest/store.py", "stats/reports.py"} <= names


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
