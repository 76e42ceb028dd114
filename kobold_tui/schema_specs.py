"""Schema edits as definition specs for `engine.datasets.apply_schema`, built from the current definitions.

Each function returns the spec list for one change (add, rename, retype, remove...), so every edit the
schema editor makes is exactly one schema event per touched resource.
"""

from __future__ import annotations

from typing import Any

_STORED_OPTIONS = (
    "type", "required", "unique", "description", "label", "choices", "target", "scale", "validate",
    "default", "default_formula",
)  # fmt: skip


def field_options(field: dict[str, Any]) -> dict[str, Any]:
    """A stored field as the options a spec gives it."""
    return {k: field[k] for k in _STORED_OPTIONS if k in field}


def spec_of(definition: dict[str, Any]) -> dict[str, Any]:
    """The spec that reproduces a stored definition unchanged."""
    spec: dict[str, Any] = {
        "resource": definition["name"],
        "key": definition["key"],
        "description": definition.get("description", ""),
        "fields": {f["name"]: field_options(f) for f in definition["fields"] if not f.get("removed")},
        "computed_fields": {
            c["name"]: {"formula": c["formula"], "type": c["type"], "description": c.get("description", "")}
            for c in definition.get("computed", [])
        },
        "validations": {v["name"]: {"formula": v["formula"]} for v in definition.get("validations", [])},
    }
    spec.update(definition.get("hints") or {})
    return spec


def add_field(definition: dict[str, Any], name: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    spec = spec_of(definition)
    spec["fields"][name] = options
    return [spec]


def change_field(
    definition: dict[str, Any], name: str, new_name: str, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """Rename and/or change a field's options (type, choices, target, ...) in place."""
    spec = spec_of(definition)
    fields: dict[str, Any] = {}
    for fname, fopts in spec["fields"].items():
        if fname == name:
            fields[new_name] = {**options, **({"renamed_from": name} if new_name != name else {})}
        else:
            fields[fname] = fopts
    spec["fields"] = fields
    return [spec]


def rename_field(definition: dict[str, Any], name: str, new_name: str) -> list[dict[str, Any]]:
    current = next(f for f in definition["fields"] if f["name"] == name and not f.get("removed"))
    return change_field(definition, name, new_name, field_options(current))


def remove_field(definition: dict[str, Any], name: str) -> list[dict[str, Any]]:
    spec = spec_of(definition)
    spec["fields"].pop(name, None)
    spec["computed_fields"].pop(name, None)
    return [spec]


def set_formula(definition: dict[str, Any], name: str, formula: str) -> list[dict[str, Any]]:
    spec = spec_of(definition)
    spec["computed_fields"][name] = {**spec["computed_fields"].get(name, {}), "formula": formula}
    return [spec]


def new_resource(name: str, description: str = "") -> list[dict[str, Any]]:
    return [{"resource": name, "description": description, "fields": {}}]


def rename_resource(definitions: list[dict[str, Any]], name: str, new_name: str) -> list[dict[str, Any]]:
    """Rename a resource and retarget every reference to it, in one apply."""
    specs = []
    for d in definitions:
        spec = spec_of(d)
        touched = d["name"] == name
        if touched:
            spec["resource"] = new_name
        for fopts in spec["fields"].values():
            if fopts.get("target") == name:
                fopts["target"] = new_name
                touched = True
        if touched:
            specs.append(spec)
    return specs


def referrers(definitions: list[dict[str, Any]], name: str) -> list[str]:
    """`Resource.field` of every reference field that targets the resource `name`."""
    return [
        f"{d['name']}.{f['name']}"
        for d in definitions
        for f in d["fields"]
        if not f.get("removed") and f.get("target") == name and d["name"] != name
    ]
