"""The layout promises: a pure core that pulls in no I/O modules, one version, a top-level
`hogkit` package that works after both install commands of the README, and a working
console script."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import hogkit.core
import hogkit.transport
import pytest

import hogkit

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DEPS = ("attr", "attrs", "msgspec", "xxhash", "urllib3")


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


def test_every_package_reports_one_version() -> None:
    assert hogkit.__version__ == hogkit.core.__version__ == hogkit.transport.__version__
    assert hogkit.__version__.count(".") == 2
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject  # the version is written in core/version.py only


def test_public_api_names_exist() -> None:
    for name in hogkit.__all__:
        assert getattr(hogkit, name) is not None, name
    assert issubclass(hogkit.EventTooLarge, hogkit.HogkitError)
    assert issubclass(hogkit.QueueFull, hogkit.HogkitError)
    assert issubclass(hogkit.NetworkError, hogkit.HogkitError)


def test_console_script_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hogkit.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"hogkit {hogkit.core.__version__}"


def _fresh_env(tmp_path: Path) -> Path:
    """A venv without pip whose only packages are links to this one's runtime dependencies."""
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = tmp_path / "deps"
    deps.mkdir()
    for name in RUNTIME_DEPS:
        module = __import__(name)
        (deps / name).symlink_to(Path(module.__file__).parent)
    Path(site, "runtime_deps.pth").write_text(f"{deps}\n")
    return python


@pytest.mark.parametrize("editable", [False, True], ids=["regular", "editable"])
def test_install_then_import_public_api(tmp_path: Path, editable: bool) -> None:
    python = _fresh_env(tmp_path)
    target = ["-e", str(ROOT)] if editable else [str(ROOT)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            *target,
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    code = (
        "from hogkit import Client, FlagSet; import hogkit, hogkit.cli; "
        "print(hogkit.__version__, Client.__module__, FlagSet.__module__)"
    )
    out = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        hogkit.__version__,
        "hogkit.transport.client",
        "hogkit.core.flagset",
    ]
    script = subprocess.run(
        [str(python.parent / "hogkit"), "--version"], capture_output=True, text=True, check=False
    )
    assert script.stdout.strip() == f"hogkit {hogkit.__version__}"
