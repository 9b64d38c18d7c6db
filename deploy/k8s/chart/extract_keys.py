"""Extract the key paths that the zero-to-jupyterhub chart documents, for an offline check.

The chart validates and documents its values with ``jupyterhub/values.schema.yaml`` (a JSON
schema in YAML; the configuration reference on z2jh.jupyter.org is generated from it). This
script keeps of it only what the check of ``deploy/k8s/values.yaml`` needs: every documented
key path, the JSON types allowed there, and whether keys below it are free-form (``open``, e.g.
``hub.config`` passes traitlets configuration through). Descriptions are dropped.

Usage, with a checkout of jupyterhub/zero-to-jupyterhub-k8s at the chart's tag::

    git -C z2jh show 4.4.0:jupyterhub/values.schema.yaml > schema.yaml
    python deploy/k8s/chart/extract_keys.py schema.yaml --version 4.4.0 --commit <sha> \
        > deploy/k8s/chart/jupyterhub-4.4.0-keys.json

A path is a list of keys; ``{"pattern": REGEX}`` stands for any key matching ``REGEX``
(the schema's ``patternProperties``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml


def _types(node: dict) -> list[str]:
    kind = node.get("type", [])
    return sorted([kind] if isinstance(kind, str) else kind)


def _open(node: dict) -> bool:
    """Are keys below ``node`` free-form (any name allowed, not documented one by one)?"""
    extra = node.get("additionalProperties")
    if extra is True or isinstance(extra, dict):
        return True
    has_keys = "properties" in node or "patternProperties" in node
    return (extra is None and not has_keys and "object" in _types(node)) or not _types(node)


def documented_paths(schema: dict) -> list[dict]:
    """Every key path of ``schema``, depth first, as ``{"key", "types", "open"}`` entries."""
    entries: list[dict] = []

    def walk(node: dict, path: list) -> None:
        for name, child in sorted(node.get("properties", {}).items()):
            visit(child, [*path, name])
        for pattern, child in sorted(node.get("patternProperties", {}).items()):
            visit(child, [*path, {"pattern": pattern}])

    def visit(node: dict, path: list) -> None:
        entries.append({"key": path, "types": _types(node), "open": _open(node)})
        walk(node, path)

    walk(schema, [])
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema", type=Path, help="the chart's values.schema.yaml")
    parser.add_argument("--version", required=True, help="the chart version it comes from")
    parser.add_argument("--commit", required=True, help="the commit of that tag")
    args = parser.parse_args(argv)
    schema = yaml.safe_load(args.schema.read_text())
    out = {
        "chart": "jupyterhub",
        "version": args.version,
        "source": (
            "jupyterhub/zero-to-jupyterhub-k8s, tag "
            f"{args.version} (commit {args.commit}), jupyterhub/values.schema.yaml"
        ),
        "top_level_open": _open(schema),
        "paths": documented_paths(schema),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
