"""YAML as people read it in generated files: block style, keys in the order written, lists indented under
their key, multi-line strings as `|` literals."""

from __future__ import annotations

from typing import Any

import yaml


class BlockDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


BlockDumper.add_representer(str, _represent_str)


def dump_yaml(document: Any, *, dumper: type[BlockDumper] = BlockDumper, width: int = 120) -> str:
    return yaml.dump(
        document, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=width
    )
