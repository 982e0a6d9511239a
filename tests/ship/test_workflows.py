"""The GitHub workflows: linted by actionlint, and doing what README.md's release checklist says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPOSITORY = Path(__file__).resolve().parents[2]
WORKFLOWS = REPOSITORY / ".github" / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "actionlint"
    )
    if found is None:
        pytest.skip(
            "actionlint is not installed: the dev extra installs it only where its wheels "
            "exist (x86_64 and aarch64 Linux)"
        )
    return found


def run_actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", *map(str, files)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actionlint_is_clean():
    result = run_actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        (WORKFLOWS / "test.yml").read_text().replace("runs-on: ubuntu-latest", "runs-onn: x")
    )
    result = run_actionlint(broken)
    assert result.returncode != 0
    assert "runs-onn" in result.stdout


def test_tests_run_make_test_on_every_supported_python():
    text = (WORKFLOWS / "test.yml").read_text()
    versions = re.search(r"python-version: \[(.*)\]", text).group(1)
    assert [v.strip(' "') for v in versions.split(",")] == ["3.9", "3.10", "3.11", "3.12", "3.13"]
    assert "run: make test" in text
    triggers = text[text.index("\non:\n") : text.index("\npermissions:")]
    for trigger in ("push:", "pull_request:", "workflow_call:"):
        assert f"\n  {trigger}" in triggers


@pytest.mark.parametrize(
    ("workflow", "tag", "repository_url"),
    [
        ("pre-release.yml", '"v[0-9]+.[0-9]+.[0-9]+_pre-release"', "https://test.pypi.org/legacy/"),
        ("release.yml", '"v[0-9]+.[0-9]+.[0-9]+"', None),
    ],
)
def test_release_workflows_build_then_publish_by_trusted_publishing(workflow, tag, repository_url):
    text = (WORKFLOWS / workflow).read_text()
    assert f"tags:\n      - {tag}\n" in text
    # The whole test matrix, then the build, then the upload.
    assert "uses: ./.github/workflows/test.yml" in text
    assert "needs: test\n    uses: ./.github/workflows/build.yml" in text
    assert "needs: build" in text
    assert "id-token: write" in text
    assert "uses: pypa/gh-action-pypi-publish@release/v1" in text
    # Trusted publishing needs no secret; a token in the workflow would mean it was not set up.
    assert "secrets." not in text
    if repository_url:
        assert f"repository-url: {repository_url}" in text
    else:
        assert "repository-url" not in text


def tag_check_script() -> str:
    """The shell script of build.yml's step that compares the tag with pyproject.toml."""
    text = (WORKFLOWS / "build.yml").read_text()
    step = text[text.index("- name: The tag names the version") :]
    script = step[step.index("run: |\n") + len("run: |\n") : step.index("\n      - ")]
    return "\n".join(line[len("          ") :] for line in script.splitlines())


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="the step runs on the workflow's Python 3.12: its script needs tomllib (3.11+)",
)
@pytest.mark.parametrize(
    ("tag", "accepted"),
    [("v{version}", True), ("v{version}_pre-release", True), ("v{version}.1", False)],
)
def test_build_publishes_only_the_version_the_tag_names(tag, accepted):
    with (REPOSITORY / "pyproject.toml").open("rb") as pyproject:
        version = tomllib.load(pyproject)["project"]["version"]
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", tag_check_script()],
        cwd=REPOSITORY,
        env={
            "TAG": tag.format(version=version),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode == 0) == accepted, result.stdout + result.stderr
    if not accepted:
        assert f"does not name version {version}" in result.stdout
    text = (WORKFLOWS / "build.yml").read_text()
    assert text.index("The tag names the version") < text.index("python -m build")
