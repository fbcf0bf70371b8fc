"""The layout promises: a pure core that pulls in no I/O modules, and a working console script."""

from __future__ import annotations

import subprocess
import sys

import hogkit.core
import hogkit.transport


def test_core_imports_no_io_modules() -> None:
    """hogkit.core adds none of these modules to what its dependencies load themselves (on
    Python 3.10 msgspec's `uuid` import brings `threading` through `platform`)."""
    code = (
        "import sys; "
        "io = {'urllib3','socket','threading','ssl','logging','random'}; "
        "found = lambda: {m for m in sys.modules if m.split('.')[0] in io}; "
        "import attrs, msgspec, xxhash; before = found(); "
        "import hogkit.core; "
        "print(sorted(found() - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_both_packages_report_one_version() -> None:
    assert hogkit.core.__version__ == hogkit.transport.__version__
    assert hogkit.core.__version__.count(".") == 2


def test_console_script_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hogkit.transport.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"hogkit {hogkit.core.__version__}"
