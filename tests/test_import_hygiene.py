import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_headless_packages_never_import_textual() -> None:
    code = (
        "import sys, engine, sync, formulas\n"
        "import engine.store, engine.records, engine.ingest, engine.csv_import, engine.maintenance\n"
        "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if m.startswith('textual'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_generic_package_names_resolve_to_this_project() -> None:
    code = "import engine, sync, formulas, themes; print('\\n'.join(m.__file__ for m in (engine, sync, formulas, themes)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd="/"
    ).stdout
    for line in out.splitlines():
        assert Path(line).resolve().is_relative_to(ROOT), line
