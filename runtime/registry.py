"""The layer registry: every `LayerSpec` by type id, plus renamed ids and lookup helpers."""
from __future__ import annotations

import difflib
from typing import Iterator

from .errors import RegistryError
from .specs import CATEGORIES, LayerSpec


class LayerRegistry:
    """Holds layer declarations. Registering the same id twice is an error."""

    def __init__(self) -> None:
        self._specs: dict[str, LayerSpec] = {}
        self._renamed: dict[str, str] = {}

    def register(self, spec: LayerSpec) -> LayerSpec:
        """Add `spec`; raise `RegistryError` when its id (or an alias) is taken."""
        if spec.type_id in self._specs or spec.type_id in self._renamed:
            raise RegistryError(f"layer type '{spec.type_id}' is registered twice")
        self._specs[spec.type_id] = spec
        return spec

    def rename(self, old_id: str, new_id: str) -> None:
        """Record that files may still say `old_id` for what is now `new_id` (read by migrations)."""
        if new_id not in self._specs:
            raise RegistryError(f"cannot rename '{old_id}' to unknown type '{new_id}'")
        if old_id in self._specs:
            raise RegistryError(f"'{old_id}' is still a registered type and cannot be a renamed id")
        self._renamed[old_id] = new_id

    def resolve(self, type_id: str) -> str | None:
        """The current id for `type_id` (following renames), or None when unknown."""
        if type_id in self._specs:
            return type_id
        return self._renamed.get(type_id)

    def get(self, type_id: str) -> LayerSpec:
        """The spec for `type_id` (renamed ids are followed); `RegistryError` when unknown."""
        resolved = self.resolve(type_id)
        if resolved is None:
            raise RegistryError(f"unknown layer type '{type_id}'{self.suggestion(type_id)}")
        return self._specs[resolved]

    def __contains__(self, type_id: object) -> bool:
        return isinstance(type_id, str) and self.resolve(type_id) is not None

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def type_ids(self) -> list[str]:
        return list(self._specs)

    def by_category(self) -> dict[str, list[LayerSpec]]:
        """Specs grouped by category, in palette order."""
        groups: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
        for spec in self._specs.values():
            groups[spec.category].append(spec)
        return {c: specs for c, specs in groups.items() if specs}

    def closest(self, name: str) -> str | None:
        """The registered id a mistyped or foreign name most likely means (aliases count)."""
        lowered = name.lower()
        for spec in self._specs.values():
            names = (spec.type_id, spec.title, *spec.aliases)
            if any(n.lower() == lowered for n in names):
                return spec.type_id
        candidates = {spec.type_id.lower(): spec.type_id for spec in self._specs.values()}
        for spec in self._specs.values():
            for alias in spec.aliases:
                candidates.setdefault(alias.lower(), spec.type_id)
        match = difflib.get_close_matches(lowered, list(candidates), n=1, cutoff=0.6)
        return candidates[match[0]] if match else None

    def suggestion(self, name: str) -> str:
        """A ": did you mean 'X'?" suffix for messages, or ""."""
        best = self.closest(name)
        return f": did you mean '{best}'?" if best else ""


def _build_default() -> LayerRegistry:
    from .layers import ALL_SPECS

    registry = LayerRegistry()
    for spec in ALL_SPECS:
        registry.register(spec)
    return registry


#: The registry of built-in layers, shared by the whole app.
REGISTRY: LayerRegistry = _build_default()
