"""
The container image's Dockerfile, checked without an engine: hadolint finds nothing in it,
its base is pinned by tag and digest, it runs as the user the chart expects, and the files
it copies are enough to build the package it installs.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy import chart

DOCKERFILE = chart.REPO / "Dockerfile"
DOCKERIGNORE = chart.REPO / ".dockerignore"
HADOLINT = Path(sys.executable).with_name("hadolint")
BUILD_TIMEOUT = 300


def hadolint(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HADOLINT), "--no-color", "--failure-threshold", "style", "-"],
                          input=text, capture_output=True, text=True, timeout=60)


def argument(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, f"the Dockerfile has no ARG {name}"
    return match.group(1)


def test_hadolint_finds_nothing():
    result = hadolint(DOCKERFILE.read_text())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_really_looking():
    result = hadolint("FROM python\nRUN pip install kopf\n")
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3013" in result.stdout


def test_the_base_is_pinned_by_tag_and_digest():
    assert re.fullmatch(r"3\.\d+\.\d+-slim-[a-z]+", argument("PYTHON_TAG"))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", argument("PYTHON_DIGEST"))
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert froms and all(base == "python:${PYTHON_TAG}@${PYTHON_DIGEST}" for base in froms)


def test_it_runs_as_the_user_the_chart_expects():
    user = re.findall(r"^USER (\S+)$", DOCKERFILE.read_text(), re.MULTILINE)[-1]
    context = chart.find(chart.render(), "Deployment")["spec"]["template"]["spec"]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid == context["securityContext"]["runAsUser"] != 0
    assert gid == context["securityContext"]["runAsGroup"]
    assert re.search(r'^ENTRYPOINT \["orgo-operator"\]$', DOCKERFILE.read_text(), re.MULTILINE)


def test_the_copied_files_build_the_package(tmp_path):
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    sources = [source.rstrip("/") for line in copied for source in line.split()]
    allowed = {line[1:].rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
               if line.startswith("!")}
    assert set(sources) <= allowed, "the .dockerignore keeps a copied file out of the context"

    # The build context as the Dockerfile sees it, without the caches of this work tree.
    context = tmp_path / "context"
    context.mkdir()
    for source in sources:
        origin = chart.REPO / source
        if origin.is_dir():
            shutil.copytree(origin, context / source,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(origin, context / source)

    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
         str(tmp_path / "wheels"), str(context)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr

    wheel, = (tmp_path / "wheels").glob("orgo_operator-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names
                            if n.endswith("entry_points.txt"))
    assert {"orgo_operator/cli.py", "orgo_operator/metrics.py",
            "orgo_operator/handlers.py"} <= names
    assert "orgo-operator = orgo_operator.cli:main" in entry_points
