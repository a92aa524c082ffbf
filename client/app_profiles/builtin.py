"""The application profiles shipped with fedpersona, read from the package's data files."""

from __future__ import annotations

from functools import cache
from importlib import resources

from client.app_profiles.profile import AppProfile, AppProfileError, parse_app_profile_text

_FILES = {
    "tutor": "tutor.toml",
    "travel-planner": "travel_planner.toml",
    "health-information": "health_information.toml",
}


def builtin_profile_names() -> tuple[str, ...]:
    """Names accepted by :func:`builtin_profile`, in a stable order."""
    return tuple(_FILES)


@cache  # parsed once per process: profiles are immutable
def builtin_profile(name: str) -> AppProfile:
    """The shipped profile called ``name`` (see :func:`builtin_profile_names`).

    Raises:
        AppProfileError: no such profile, or its file is damaged.
    """
    if name not in _FILES:
        raise AppProfileError(
            f"no built-in application profile {name!r}; choose one of {list(_FILES)}"
        )
    resource = resources.files("client.app_profiles").joinpath("builtin", _FILES[name])
    profile = parse_app_profile_text(
        resource.read_text(encoding="utf-8"), f"builtin/{_FILES[name]}"
    )
    if profile.name != name:
        raise AppProfileError(
            f"builtin/{_FILES[name]}: name: expected {name!r}, got {profile.name!r}"
        )
    return profile
