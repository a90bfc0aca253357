"""tools/services.py: the suite's system services installed from Debian when missing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import services  # tools/services.py (tools/ is on sys.path: pyproject's pythonpath)


class Apt:
    """Stands in for apt-get: records each command; `installs` are made present on install."""

    def __init__(self, installs: list[Path], *, fail_first_install: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.installs = installs
        self.fail_first_install = fail_first_install

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"
        self.commands.append(command)
        if "install" in command:
            if self.fail_first_install:
                self.fail_first_install = False
                return subprocess.CompletedProcess(command, 100, "", "E: Unable to locate package")
            for path in self.installs:
                path.touch()
        return subprocess.CompletedProcess(command, 0, "", "")


def service(path: Path, name: str = "browser") -> Any:
    return services.Service(name, "the browser tests", (str(path),), (f"pkg-{name}",))


def run_install(
    wanted: list[Any], apt: Apt, *, root: bool = True, has_apt: bool = True
) -> tuple[int, str]:
    said: list[str] = []
    code = services.install(
        wanted,
        run=apt,
        euid=lambda: 0 if root else 1000,
        which=lambda name: "/usr/bin/apt-get" if has_apt else None,
        say=said.append,
    )
    return code, "\n".join(said)


def test_nothing_is_done_or_said_when_every_service_is_there(tmp_path: Path) -> None:
    (tmp_path / "chromium").touch()
    apt = Apt([])
    assert run_install([service(tmp_path / "chromium")], apt) == (0, "")
    assert apt.commands == []


def test_missing_packages_are_installed_with_apt_in_one_call(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    apt = Apt([a, b])
    code, said = run_install([service(a, "a"), service(b, "b")], apt)
    assert code == 0, said
    (command,) = apt.commands
    assert command[-4:] == ["-y", "--no-install-recommends", "pkg-a", "pkg-b"]
    assert "installed a, b" in said


def test_apt_lists_are_updated_when_the_first_install_fails(tmp_path: Path) -> None:
    apt = Apt([tmp_path / "c"], fail_first_install=True)
    code, _ = run_install([service(tmp_path / "c")], apt)
    assert code == 0
    assert [c[c.index("-o") + 2] for c in apt.commands] == ["install", "update", "install"]


def test_not_root_says_the_command_to_run_and_fails(tmp_path: Path) -> None:
    apt = Apt([tmp_path / "d"])
    code, said = run_install([service(tmp_path / "d")], apt, root=False)
    assert code == 1
    assert "needs root: sudo apt-get install -y --no-install-recommends pkg-browser" in said
    assert apt.commands == []


def test_without_apt_it_says_so_and_fails(tmp_path: Path) -> None:
    code, said = run_install([service(tmp_path / "e")], Apt([]), has_apt=False)
    assert code == 1
    assert "no apt-get here" in said


def test_a_package_that_installs_nothing_useful_is_a_failure(tmp_path: Path) -> None:
    code, said = run_install([service(tmp_path / "never")], Apt([]))
    assert code == 1
    assert "still not there" in said


def test_globs_name_versioned_paths(tmp_path: Path) -> None:
    (tmp_path / "15" / "bin").mkdir(parents=True)
    (tmp_path / "15" / "bin" / "postgres").touch()
    assert service(tmp_path / "*" / "bin" / "postgres").installed()
    assert not service(tmp_path / "*" / "bin" / "redis").installed()


def test_chromium_is_a_service_of_the_repo() -> None:
    (chromium,) = (s for s in services.SERVICES if s.name == "chromium")
    assert chromium.present == ("/usr/bin/chromium",)
    assert chromium.packages == ("chromium",)
