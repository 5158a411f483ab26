"""The lock holds what pyproject.toml asks for, pinned and hashed.

`make install` installs requirements/lock.txt (written by `make lock` from
pyproject.toml's ranges and requirements/build.in). When a dependency is added
to one and not the other, or a range no longer admits the pinned version, the
install would quietly differ from what pyproject.toml says: these tests name it.
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
PROJECT = "oncall (pyproject.toml)"
BUILD_INPUT = "-r requirements/build.in"


@dataclass
class Pin:
    version: Version
    hashes: int
    via: set[str]


def read_lock(text: str) -> dict[str, Pin]:
    """The pins of a lock written by `uv pip compile --generate-hashes`, by package name.

    Each pin is a ``name==version`` line, its ``--hash`` lines, then ``# via``
    lines naming what asked for it (one after "via", or one per line below it).
    """
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        if found := PIN.match(line):
            current = Pin(Version(found["version"]), 0, set())
            pins[canonicalize_name(found["name"])] = current
        elif current is None:
            continue
        elif HASH.search(line):
            current.hashes += len(HASH.findall(line))
        elif line.strip().startswith("# via "):
            current.via.add(line.strip().removeprefix("# via ").strip())
        elif line.startswith("    #   "):
            current.via.add(line.strip().removeprefix("#").strip())
    return pins


def asked_for(pyproject: dict) -> dict[str, Requirement]:
    """What pyproject.toml asks `make install` for: dependencies and the dev extra."""
    project = pyproject["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def disagreements(pyproject: dict, build_in: str, lock: str) -> list[str]:
    """Every way the lock and its inputs disagree, in words; empty when they agree."""
    pins = read_lock(lock)
    problems = []
    build = {
        canonicalize_name(r.name): r
        for r in map(Requirement, pyproject["build-system"]["requires"])
    }
    build_lines = [
        line.strip() for line in build_in.splitlines() if line.strip() and not line.startswith("#")
    ]
    if sorted(build_lines) != sorted(pyproject["build-system"]["requires"]):
        problems.append(
            f"requirements/build.in asks for {build_lines}, "
            f"pyproject.toml's [build-system] for {pyproject['build-system']['requires']}"
        )
    for source, wanted, via in (
        ("pyproject.toml", asked_for(pyproject), PROJECT),
        ("requirements/build.in", build, BUILD_INPUT),
    ):
        for name, requirement in wanted.items():
            pin = pins.get(name)
            if pin is None or via not in pin.via:
                problems.append(f"{source} asks for {requirement}, which the lock does not hold")
            elif not requirement.specifier.contains(pin.version, prereleases=True):
                problems.append(f"the lock pins {name}=={pin.version}, outside {requirement}")
        for name, pin in pins.items():
            if via in pin.via and name not in wanted:
                problems.append(f"the lock holds {name} for {source}, which no longer asks for it")
    problems += [f"{name} is pinned without a hash" for name, pin in pins.items() if not pin.hashes]
    return problems


def project_files() -> tuple[dict, str, str]:
    return (
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")),
        (ROOT / "requirements/build.in").read_text(encoding="utf-8"),
        (ROOT / "requirements/lock.txt").read_text(encoding="utf-8"),
    )


def test_the_lock_agrees_with_pyproject():
    assert disagreements(*project_files()) == []


def test_the_lock_pins_everything_with_hashes():
    pins = read_lock(project_files()[2])
    assert len(pins) > 40  # dependencies of dependencies are pinned too
    assert "markdown" in pins and "ruff" in pins and "setuptools" in pins
    assert all(pin.hashes >= 1 for pin in pins.values())


def test_a_dependency_added_to_pyproject_alone_is_named():
    pyproject, build_in, lock = project_files()
    pyproject["project"]["dependencies"].append("left-pad>=1")
    assert disagreements(pyproject, build_in, lock) == [
        "pyproject.toml asks for left-pad>=1, which the lock does not hold"
    ]


def test_a_dependency_removed_from_pyproject_alone_is_named():
    pyproject, build_in, lock = project_files()
    dependencies = pyproject["project"]["dependencies"]
    dependencies.remove(next(d for d in dependencies if d.startswith("Markdown")))
    assert disagreements(pyproject, build_in, lock) == [
        "the lock holds markdown for pyproject.toml, which no longer asks for it"
    ]


def test_a_range_that_excludes_the_pinned_version_is_named():
    pyproject, build_in, lock = project_files()
    pinned = read_lock(lock)["markdown"].version
    dependencies = pyproject["project"]["dependencies"]
    index = next(i for i, d in enumerate(dependencies) if d.startswith("Markdown"))
    dependencies[index] = f"Markdown<{pinned}"
    assert disagreements(pyproject, build_in, lock) == [
        f"the lock pins markdown=={pinned}, outside Markdown<{pinned}"
    ]


def test_a_build_requirement_changed_in_pyproject_alone_is_named():
    pyproject, build_in, lock = project_files()
    pyproject["build-system"]["requires"] = ["setuptools>=80", "wheel"]
    problems = disagreements(pyproject, build_in, lock)
    assert problems[0].startswith("requirements/build.in asks for ['setuptools>=69']")
    assert "requirements/build.in asks for wheel, which the lock does not hold" in problems


def test_a_pin_without_a_hash_is_named():
    pyproject, build_in, lock = project_files()
    unhashed = re.sub(r"(?m)^(markdown==\S+) \\\n(    --hash=\S+( \\)?\n)+", r"\1\n", lock)
    assert unhashed != lock
    assert disagreements(pyproject, build_in, unhashed) == ["markdown is pinned without a hash"]


def test_the_installer_is_pinned_with_hashes_too():
    wanted = (ROOT / "requirements/uv.in").read_text(encoding="utf-8")
    (line,) = [line for line in wanted.splitlines() if line and not line.startswith("#")]
    pins = read_lock((ROOT / "requirements/uv.txt").read_text(encoding="utf-8"))
    assert Requirement(line).specifier.contains(pins["uv"].version)
    assert pins["uv"].hashes >= 10  # one a platform's wheel, and the source
