"""config/README.md documents every key of the config schema, and the default config is valid."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]


def schema_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if sub.get("type") == "object" and "properties" in sub:
            keys += schema_keys(sub, path + ".")
        elif sub.get("type") == "array" and sub.get("items", {}).get("type") == "object":
            keys += schema_keys(sub["items"], path + "[].")
        else:
            keys.append(path)
    return keys


def test_readme_names_every_schema_key():
    schema = yaml.safe_load((REPO / "config/schemas/config.schema.yaml").read_text())
    readme = (REPO / "config/README.md").read_text()
    missing = [k for k in schema_keys(schema) if f"`{k}`" not in readme]
    assert not missing, f"config/README.md does not document: {missing}"


def test_default_config_is_valid():
    schema = yaml.safe_load((REPO / "config/schemas/config.schema.yaml").read_text())
    jsonschema.validate(yaml.safe_load((REPO / "config/config.yaml").read_text()), schema)
