"""Datasets and their schemas: create, list, describe, and apply resource definitions as schema events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import computed, projection, writes
from engine.errors import NotFound, SchemaError
from engine.field_types import ValueProblem
from engine.protocol import KIND_MANIFEST, KIND_NAMES, KIND_SCHEMA, VISIBILITIES
from engine.schema import Resource, check_targets, normalize

if TYPE_CHECKING:
    from engine.store import Store


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    name: str
    type: str
    visibility: str
    owner: str
    description: str
    created_at: int
    origin: dict[str, Any] | None


def create_dataset(
    store: Store, name: str, dtype: str = "org.tribes.kobold.dataset", visibility: str = "private",
    description: str = "",
) -> str:  # fmt: skip
    """Sign a genesis event and return the new dataset's id."""
    name = name.strip()
    if not name:
        raise SchemaError("A dataset needs a name.")
    if visibility not in VISIBILITIES:
        raise SchemaError(f"Visibility is one of {', '.join(VISIBILITIES)}, not {visibility!r}.")
    if store.con.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
        raise SchemaError(f"A dataset called {name!r} already exists here; pick another name.")
    with store.transaction():
        return writes.create_genesis(store, name, dtype, visibility, description)


def update_manifest(store: Store, dataset_id: str, **changes: str) -> None:
    """Rename a dataset or change its description, type or visibility."""
    if "visibility" in changes and changes["visibility"] not in VISIBILITIES:
        raise SchemaError(f"Visibility is one of {', '.join(VISIBILITIES)}, not {changes['visibility']!r}.")
    name = changes.get("name")
    if (
        name is not None
        and store.con.execute(
            "SELECT 1 FROM datasets WHERE name = ? AND id <> ?", [name, dataset_id]
        ).fetchone()
    ):
        raise SchemaError(f"A dataset called {name!r} already exists here; pick another name.")
    writes.append(store, dataset_id, KIND_MANIFEST, {k: v for k, v in changes.items() if v is not None})


def list_datasets(store: Store) -> list[DatasetInfo]:
    rows = store.con.execute(
        "SELECT id, name, type, visibility, owner, description, created_at, origin FROM datasets ORDER BY name, id"
    ).fetchall()
    return [
        DatasetInfo(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), json.loads(r[7]) if r[7] else None)
        for r in rows
    ]


def info(store: Store, dataset_id: str) -> DatasetInfo:
    for d in list_datasets(store):
        if d.id == dataset_id:
            return d
    raise NotFound(f"No dataset {dataset_id} in this store.")


def resources(store: Store, dataset_id: str) -> list[Resource]:
    return [Resource(dataset_id, d) for d in store.definitions(dataset_id) if not d.get("removed")]


def resource(store: Store, dataset_id: str, name: str) -> Resource:
    found = [r for r in resources(store, dataset_id) if name in (r.name, r.key)]
    if not found:
        known = ", ".join(r.name for r in resources(store, dataset_id)) or "none yet"
        raise NotFound(f"This dataset has no resource {name!r} (resources: {known}).")
    return found[0]


def apply_schema(store: Store, dataset_id: str, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create or migrate resources from definitions; every change is checked before anything is signed."""
    current = {r.key: r.definition for r in resources(store, dataset_id)}
    by_name = {d["name"]: d for d in current.values()}
    planned: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for spec in specs:
        name = spec.get("resource") or spec.get("name")
        previous = by_name.get(str(name)) if name else None
        if previous is None and spec.get("key") in current:
            previous = current[spec["key"]]
        definition, changes = normalize(spec, previous)
        if definition["key"] in planned:
            raise SchemaError(f"The resource {definition['name']} is defined twice.")
        planned[definition["key"]] = (definition, changes)
    check_targets({**current, **{k: d for k, (d, _) in planned.items()}})
    _check_formulas(planned)
    for key, (definition, changes) in planned.items():
        if key in current:
            _check_retypes(store, dataset_id, current[key], definition, changes)
    applied = []
    with store.transaction():
        for key, (definition, changes) in planned.items():
            if key in current and current[key] == definition:
                continue
            writes.append(store, dataset_id, KIND_SCHEMA, {"definition": definition, "changes": changes})
            applied.append({"resource": definition["name"], "changes": changes})
    return applied


def remove_resource(store: Store, dataset_id: str, name: str) -> None:
    res = resource(store, dataset_id, name)
    definition = {**res.definition, "removed": True}
    writes.append(
        store, dataset_id, KIND_SCHEMA, {"definition": definition, "changes": [{"change": "remove_resource"}]}
    )


def _check_formulas(planned: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    """Formulas must compile before a schema is signed."""
    for definition, _ in planned.values():
        computed.check_definition(definition)


def _check_retypes(
    store: Store, dataset_id: str, old: dict[str, Any], new: dict[str, Any], changes: list[dict[str, Any]]
) -> None:
    """Refuse a retype that some live record's value cannot survive, naming those records."""
    from engine.field_types import canonical

    tbl = projection.table_name(dataset_id, old["key"])
    fields = {f["key"]: f for f in new["fields"]}
    for change in changes:
        if change["change"] != "retype":
            continue
        key = change["field"]
        rows = store.con.execute(
            f"SELECT _id, {projection.q(key)} FROM {projection.q(tbl)} WHERE {projection.q(key)} IS NOT NULL"
        ).fetchall()
        bad = []
        for rid, value in rows:
            try:
                canonical(fields[key], _plain(value), from_text=True)
            except ValueProblem as exc:
                bad.append(f"{rid} ({value!r}: {exc})")
        if bad:
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise SchemaError(
                f"Cannot change {new['name']}.{fields[key]['name']} from {change['from']} to {change['to']}: "
                f"{len(bad)} record(s) would not convert: {'; '.join(bad[:5])}{more}. Fix or clear those values first."
            )


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value) if not isinstance(value, str | bool | int) else value


def event_counts(store: Store, dataset_id: str) -> dict[str, int]:
    rows = store.con.execute(
        "SELECT kind, count(*) FROM events WHERE dataset_id = ? GROUP BY kind ORDER BY kind", [dataset_id]
    ).fetchall()
    return {KIND_NAMES.get(k, str(k)): n for k, n in rows}
