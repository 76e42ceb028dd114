"""Resource definitions as data: parsing the YAML/JSON a person writes, and the canonical form events carry.

Every field has a stable `key` (the name it was born with, never reused) and a display `name`; record
operations refer to keys, so renaming a field changes one schema event and no record events.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.errors import SchemaError
from engine.field_types import FIELD_TYPES, TYPE_ALIASES, ValueProblem, canonical

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
FIELD_OPTIONS = {
    "type", "required", "default", "description", "unique", "choices", "values", "target", "scale",
    "validate", "label", "renamed_from", "default_formula",
}  # fmt: skip


@dataclass(frozen=True)
class Resource:
    """The current definition of one resource, as stored in its latest schema event."""

    dataset_id: str
    definition: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.definition["key"])

    @property
    def name(self) -> str:
        return str(self.definition["name"])

    @property
    def fields(self) -> list[dict[str, Any]]:
        """Live (not removed) stored fields, in display order."""
        return [f for f in self.definition["fields"] if not f.get("removed")]

    @property
    def computed(self) -> list[dict[str, Any]]:
        return list(self.definition.get("computed", []))

    def field(self, name_or_key: str) -> dict[str, Any]:
        for f in self.fields:
            if f["name"] == name_or_key:
                return f
        for f in self.fields:
            if f["key"] == name_or_key:
                return f
        known = ", ".join(f["name"] for f in self.fields) or "none"
        raise SchemaError(f"{self.name} has no field {name_or_key!r} (fields: {known}).")

    def has_field(self, name_or_key: str) -> bool:
        return any(name_or_key in (f["name"], f["key"]) for f in self.fields)


def load_definitions(path: Path) -> list[dict[str, Any]]:
    """Read one resource definition or a list of them from a YAML or JSON file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SchemaError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise SchemaError(
            f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {first}."
        ) from None
    if isinstance(data, dict) and "resources" in data:
        data = data["resources"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise SchemaError(
            f"{path} must hold a resource definition (a mapping with `resource:`) or a list of them."
        )
    return data


def normalize(
    spec: dict[str, Any], previous: dict[str, Any] | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Turn a person's definition into the canonical stored form, diffing against `previous`.

    Returns the new definition and the list of changes (add/rename/retype/remove/...), which the schema
    event records so history can say what happened.
    """
    name = spec.get("resource") or spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SchemaError(
            "A resource definition needs `resource: Name` (letters, digits and _, starting with a letter)."
        )
    unknown = set(spec) - {
        "resource", "name", "description", "fields", "computed_fields", "validations", "relationships",
        "views", "forms", "display", "key",
    }  # fmt: skip
    if unknown:
        raise SchemaError(f"{name}: unknown section(s) {', '.join(sorted(unknown))}.")
    raw_fields = _as_mapping(spec.get("fields") or {}, f"{name}.fields")
    for rel_name, rel in _as_mapping(spec.get("relationships") or {}, f"{name}.relationships").items():
        rel = rel if isinstance(rel, dict) else {"target": rel}
        kind = str(rel.get("type", "one"))
        if kind not in ("one", "many"):
            raise SchemaError(f"{name}.{rel_name}: a relationship type is `one` or `many`, not {kind!r}.")
        field_spec = {k: v for k, v in rel.items() if k != "type"}
        field_spec["type"] = "reference" if kind == "one" else "references"
        if rel_name in raw_fields:
            raise SchemaError(f"{name}: {rel_name!r} is both a field and a relationship.")
        raw_fields[rel_name] = field_spec

    prev_fields: list[dict[str, Any]] = list(previous["fields"]) if previous else []
    used_keys = {f["key"] for f in prev_fields}
    by_name = {f["name"]: f for f in prev_fields if not f.get("removed")}
    fields: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    seen_prev: set[str] = set()
    for fname, fspec in raw_fields.items():
        f = _field(name, str(fname), fspec)
        renamed_from = f.pop("renamed_from", None)
        old = by_name.get(renamed_from or fname)
        if renamed_from and old is None:
            raise SchemaError(f"{name}.{fname}: renamed_from {renamed_from!r} is not a field of {name}.")
        if old is not None:
            f["key"] = old["key"]
            seen_prev.add(old["key"])
            if old["name"] != f["name"]:
                changes.append({"change": "rename", "field": f["key"], "from": old["name"], "to": f["name"]})
            if old["type"] != f["type"] or old.get("scale") != f.get("scale"):
                changes.append({"change": "retype", "field": f["key"], "from": old["type"], "to": f["type"]})
            elif _options(old) != _options(f):
                changes.append({"change": "options", "field": f["key"]})
        else:
            f["key"] = _fresh_key(f["name"], used_keys)
            used_keys.add(f["key"])
            changes.append({"change": "add", "field": f["key"], "name": f["name"], "type": f["type"]})
        fields.append(f)
    for old in prev_fields:
        if old["key"] in seen_prev:
            continue
        if not old.get("removed"):
            changes.append({"change": "remove", "field": old["key"], "name": old["name"]})
        fields.append({**old, "removed": True})

    computed = []
    for cname, cspec in _as_mapping(spec.get("computed_fields") or {}, f"{name}.computed_fields").items():
        cspec = cspec if isinstance(cspec, dict) else {"formula": cspec}
        formula = cspec.get("formula")
        if not isinstance(formula, str) or not formula.strip():
            raise SchemaError(f"{name}.{cname}: a computed field needs a `formula`.")
        ctype = TYPE_ALIASES.get(str(cspec.get("type", "string")), str(cspec.get("type", "string")))
        if ctype not in ("string", "text", "integer", "decimal", "boolean", "date", "datetime"):
            raise SchemaError(
                f"{name}.{cname}: a computed field's type must be a scalar type, not {ctype!r}."
            )
        computed.append(
            {"key": str(cname), "name": str(cname), "type": ctype, "formula": formula.strip("\n"),
             "description": str(cspec.get("description", ""))}
        )  # fmt: skip
    validations = []
    for vname, vspec in _as_mapping(spec.get("validations") or {}, f"{name}.validations").items():
        vspec = vspec if isinstance(vspec, dict) else {"formula": vspec}
        if not isinstance(vspec.get("formula"), str):
            raise SchemaError(f"{name}.{vname}: a validation needs a `formula`.")
        validations.append({"name": str(vname), "formula": str(vspec["formula"]).strip("\n")})

    names = [f["name"] for f in fields if not f.get("removed")] + [c["name"] for c in computed]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SchemaError(f"{name}: the name(s) {', '.join(sorted(dupes))} are used twice.")
    definition = {
        "key": previous["key"] if previous else name,
        "name": name,
        "description": str(spec.get("description", "")),
        "fields": fields,
        "computed": computed,
        "validations": validations,
        "hints": {k: spec[k] for k in ("views", "forms", "display") if k in spec},
    }
    if previous and previous["name"] != name:
        changes.insert(0, {"change": "rename_resource", "from": previous["name"], "to": name})
    if previous is None:
        changes.insert(0, {"change": "create_resource", "name": name})
    elif previous.get("computed") != computed or previous.get("validations") != validations:
        changes.append({"change": "formulas"})
    return definition, changes


def check_targets(definitions: dict[str, dict[str, Any]]) -> None:
    """Every reference field must target a resource of the dataset (by name)."""
    names = {d["name"] for d in definitions.values() if not d.get("removed")}
    for d in definitions.values():
        if d.get("removed"):
            continue
        for f in d["fields"]:
            if f.get("removed") or f["type"] not in ("reference", "references"):
                continue
            if f["target"] not in names:
                raise SchemaError(
                    f"{d['name']}.{f['name']} refers to {f['target']!r}, which is not a resource of this dataset "
                    f"(resources: {', '.join(sorted(names))})."
                )


def canonical_json(definition: dict[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field(resource: str, fname: str, fspec: Any) -> dict[str, Any]:
    where = f"{resource}.{fname}"
    if not _NAME.match(fname):
        raise SchemaError(f"{where}: a field name uses letters, digits and _, starting with a letter.")
    if isinstance(fspec, str):
        fspec = {"type": fspec}
    if not isinstance(fspec, dict):
        raise SchemaError(f"{where}: a field is a type name or a mapping with `type:`.")
    unknown = set(fspec) - FIELD_OPTIONS
    if unknown:
        raise SchemaError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}.")
    ftype = TYPE_ALIASES.get(str(fspec.get("type", "string")), str(fspec.get("type", "string")))
    if ftype not in FIELD_TYPES:
        raise SchemaError(f"{where}: unknown type {fspec.get('type')!r} (types: {', '.join(FIELD_TYPES)}).")
    f: dict[str, Any] = {
        "name": fname,
        "type": ftype,
        "required": bool(fspec.get("required", False)),
        "unique": bool(fspec.get("unique", False)),
        "description": str(fspec.get("description", "")),
    }
    if fspec.get("label"):
        f["label"] = str(fspec["label"])
    if "renamed_from" in fspec:
        f["renamed_from"] = str(fspec["renamed_from"])
    if ftype == "choice":
        choices = fspec.get("choices", fspec.get("values"))
        if not isinstance(choices, list) or not choices or not all(isinstance(c, str | int) for c in choices):
            raise SchemaError(f"{where}: a choice field needs `choices:` with a list of values.")
        f["choices"] = [str(c) for c in choices]
    if ftype in ("reference", "references"):
        target = fspec.get("target")
        if not isinstance(target, str) or not target:
            raise SchemaError(f"{where}: a reference needs `target:` naming a resource.")
        f["target"] = target
    if ftype == "decimal":
        scale = fspec.get("scale", 2)
        if not isinstance(scale, int) or not 0 <= scale <= 18:
            raise SchemaError(f"{where}: scale must be a whole number from 0 to 18.")
        f["scale"] = scale
    if fspec.get("validate") is not None:
        f["validate"] = str(fspec["validate"]).strip("\n")
    if fspec.get("default_formula") is not None:
        f["default_formula"] = str(fspec["default_formula"]).strip("\n")
    if "default" in fspec and fspec["default"] is not None:
        try:
            f["default"] = canonical(f, fspec["default"], from_text=isinstance(fspec["default"], str))
        except ValueProblem as exc:
            raise SchemaError(f"{where}: default {fspec['default']!r} does not fit: {exc}.") from None
    return f


def _options(f: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in f.items() if k not in ("key", "name")}


def _fresh_key(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    n = 2
    while f"{name}_{n}" in used:
        n += 1
    return f"{name}_{n}"


def _as_mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(f"{where} must be a mapping of names to definitions.")
    return dict(value)


def describe_change(c: dict[str, Any]) -> str:
    """One schema change (an entry of a schema event's `changes`) in words, for logs and reviews."""
    kind = c.get("change")
    if kind == "add":
        return f"new field {c.get('name')} ({c.get('type')})"
    if kind == "rename":
        return f"field {c.get('from')} renamed to {c.get('to')}"
    if kind == "retype":
        return f"field {c['field']} retyped {c.get('from')} → {c.get('to')}"
    if kind == "remove":
        return f"field {c.get('name')} removed"
    if kind == "create_resource":
        return f"new resource {c.get('name')}"
    if kind == "rename_resource":
        return f"resource renamed {c.get('from')} → {c.get('to')}"
    return str(kind).replace("_", " ")
