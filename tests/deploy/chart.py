"""
The Helm chart as the tests and `make manifests` see it: rendered by Helm's own engine (the
helm-python-sdk package embeds Helm's library), offline, into plain Kubernetes objects.

    docs = render({"replicaCount": 1})
    deployment = find(docs, "Deployment")
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "orgo-operator"
CRDS = REPO / "crds"
MANIFESTS = REPO / "deploy" / "manifests"

RELEASE = "orgo-operator"
NAMESPACE = "orgo-system"
NOTES = "NOTES.txt"

# The severities in a lint report; a warning fails the strict lint.
SEVERITIES = {1: "info", 2: "warning", 3: "error"}
WARNING = 2


def render(values: Mapping[str, Any] | None = None, *, release: str = RELEASE,
           namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """Every object the chart's templates make for these values, in template-file order."""
    docs: list[dict[str, Any]] = []
    for name, text in sorted(_render(values, release=release, namespace=namespace).items()):
        if name.endswith(".yaml"):
            docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def notes(values: Mapping[str, Any] | None = None, *, release: str = RELEASE,
          namespace: str = NAMESPACE) -> str:
    rendered = _render(values, release=release, namespace=namespace)
    return next(text for name, text in rendered.items() if name.endswith(NOTES))


def crds() -> dict[str, str]:
    """The chart's CRDs, which Helm installs before the templates: file name -> text."""
    with helm.Chart.load(CHART) as chart:
        return {crd["filename"].rsplit("/", 1)[-1]: crd["data"] for crd in chart.crds}


def validate(values: Mapping[str, Any]) -> None:
    """Check values against values.schema.json as `helm install` does; raises on refusal."""
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(dict(values))


def lint(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`helm lint --strict`: a report of findings, each with a severity and a message."""
    return helm.lint(CHART, dict(values) if values is not None else None, strict=True)


def find(docs: Iterable[Mapping[str, Any]], kind: str, name: str | None = None,
         namespace: str | None = None) -> dict[str, Any]:
    """The one object of this kind (and name, and namespace), or an AssertionError."""
    found = [doc for doc in docs if doc["kind"] == kind
             and (name is None or doc["metadata"]["name"] == name)
             and (namespace is None or doc["metadata"].get("namespace") == namespace)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return dict(found[0])


def kinds(docs: Iterable[Mapping[str, Any]]) -> list[str]:
    return [doc["kind"] for doc in docs]


def to_yaml(docs: Iterable[Mapping[str, Any]]) -> str:
    return "".join("---\n" + yaml.safe_dump(dict(doc), sort_keys=False) for doc in docs)


def _render(values: Mapping[str, Any] | None, *, release: str,
            namespace: str) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        return chart.render(dict(values) if values is not None else None, name=release,
                            namespace=namespace, is_install=True)


def template(argv: list[str]) -> int:
    """`python -m tests.deploy.chart template [-f VALUES.yaml]`: the rendered objects."""
    values: dict[str, Any] = {}
    if argv[:1] == ["-f"] and len(argv) == 2:
        values = yaml.safe_load(Path(argv[1]).read_text()) or {}
    elif argv:
        print("usage: python -m tests.deploy.chart template [-f VALUES.yaml]", file=sys.stderr)
        return 2
    try:
        validate(values)
    except Exception as exc:  # the engine's own refusal, worded for people
        print(exc, file=sys.stderr)
        return 1
    sys.stdout.write(to_yaml(render(values)))
    return 0


def main() -> int:
    """`python -m tests.deploy.chart`: lint the chart strictly, as `make lint` does."""
    if sys.argv[1:2] == ["template"]:
        return template(sys.argv[2:])
    report = lint()
    for message in report["messages"]:
        print(f"{SEVERITIES.get(message['severity'], '?')}: {message['path']}: "
              f"{message['error']}")
    for error in report["errors"]:
        print(f"error: {error}")
    failed = report["errors"] or any(m["severity"] >= WARNING for m in report["messages"])
    print(f"{CHART.relative_to(REPO)}: {'failed' if failed else 'passed'} helm lint --strict")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
