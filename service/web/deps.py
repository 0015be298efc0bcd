"""Handler dependencies read from the app's state; coroutines, as a plain function costs a thread-pool trip."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from embeddings.settings import Settings
from service.search.engine import SearchEngine


async def get_engine(request: Request) -> SearchEngine:
    engine: SearchEngine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_groups(request: Request) -> dict[str, list[dict]]:
    """Top-level groups (chapters, PCS sections) of each loaded system: the chapter filter's values."""
    groups: dict[str, list[dict]] = request.app.state.groups
    return groups


async def get_system(request: Request, system: str = Path(
        description="a loaded code system, in any case and with or without dashes (icd10cm, ICD-10-CM)")) -> str:
    """The path's system as the index names it; a name no loaded system has stays as typed (its route says 404)."""
    name: str = request.app.state.engine.system_name(system)
    return name


EngineDep = Annotated[SearchEngine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
GroupsDep = Annotated[dict[str, list[dict]], Depends(get_groups)]
SystemDep = Annotated[str, Depends(get_system)]
