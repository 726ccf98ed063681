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
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    readme = (REPO / "config/README.md").read_text()
    missing = [k for k in schema_keys(schema) if f"`{k}`" not in readme]
    assert not missing, f"config/README.md does not document: {missing}"


def test_default_config_is_valid():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    jsonschema.validate(yaml.safe_load((REPO / "config/config.yaml").read_text()), schema)


def test_report_captions_render_with_the_default_config():
    """Every report caption names only config keys that exist, and renders to valid RST."""
    import io
    from types import SimpleNamespace

    import docutils.core
    import jinja2

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    snakemake = SimpleNamespace(config=config, wildcards=SimpleNamespace(method="unet3d", stratum="center"))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    captions = sorted((REPO / "workflow/report").rglob("*.rst"))
    assert captions
    for path in captions:
        try:
            text = env.from_string(path.read_text()).render(snakemake=snakemake)
        except jinja2.UndefinedError as exc:
            raise AssertionError(f"{path.relative_to(REPO)}: {exc}") from None
        warnings = io.StringIO()
        docutils.core.publish_string(text, writer_name="null", settings_overrides={"warning_stream": warnings})
        assert not warnings.getvalue(), f"{path.relative_to(REPO)}: {warnings.getvalue()}"
