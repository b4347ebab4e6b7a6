"""README's "Where everything lives" names every room of the package, so a reader finds each one."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "tracking"


def _rooms_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### Where everything lives")
    return text[start : text.index("\n## ", start)]


def test_every_top_level_module_and_package_is_named():
    section = _rooms_section()
    rooms = [
        path.name + ("/" if path.is_dir() else "")
        for path in sorted(PACKAGE.iterdir())
        if not path.name.startswith(("_", ".")) or path.name == "__init__.py"
        if path.suffix == ".py" or (path.is_dir() and path.name != "__pycache__")
    ]
    missing = [room for room in rooms if f"`{room}`" not in section]
    assert rooms and not missing, f"rooms the README does not name: {missing}"


def test_every_module_of_the_pipeline_packages_is_named():
    section = _rooms_section()
    missing = []
    for package in ("ingest", "ingest/enrich", "summaries", "reports", "views"):
        for path in sorted((PACKAGE / package).glob("*.py")):
            if path.stem != "__init__" and f"`{path.stem}`" not in section and f"{package}/{path.name}" not in section:
                missing.append(f"{package}/{path.name}")
    assert not missing, f"modules the README does not name: {missing}"
