"""Request checks shared by every entry point: the system a name means, paging and query-understanding features."""
from __future__ import annotations

import re

from embeddings.index.store import IndexStore
from embeddings.settings import Settings
from service.errors import QueryError
from service.search import understanding as qu


class Checks:
    """Mixed into the search engine: it reads `store` (the loaded systems) and `settings` (the paging limits)."""
    store: IndexStore
    settings: Settings

    def system_name(self, name: str) -> str:
        """The loaded system a name means, read without case, spaces, dots, dashes or underscores (ICD-10-CM is
        icd10cm); a name no loaded system has is returned as given."""
        key = re.sub(r"[ ._-]", "", name.lower())
        return next((s for s in self.store.systems if re.sub(r"[ ._-]", "", s.lower()) == key), name)

    def check_system(self, system: str | None) -> str | None:
        if system in (None, "", "all"):
            return None
        system = self.system_name(system)
        if system not in self.store.systems:
            raise QueryError(f"unknown system {system!r}; loaded systems: {', '.join(self.store.systems)}")
        return system

    def check_paging(self, limit: int, offset: int = 0) -> None:
        if not 1 <= limit <= self.settings.max_limit:
            raise QueryError(f"limit must be between 1 and {self.settings.max_limit}")
        if not 0 <= offset <= self.settings.max_offset:
            raise QueryError(f"offset must be between 0 and {self.settings.max_offset}")

    @staticmethod
    def check_features(features: frozenset[str] | set[str] | None) -> frozenset[str]:
        if features is None:
            return frozenset(qu.FEATURES)  # every step: the engine's DEFAULT_FEATURES
        unknown = set(features) - set(qu.FEATURES)
        if unknown:
            raise QueryError(f"unknown query-understanding feature(s) {sorted(unknown)}; "
                             f"known: {', '.join(qu.FEATURES)}")
        return frozenset(features)
