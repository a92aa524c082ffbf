"""Application profiles: the role and safety policy an application gives the assistant.

They come from profile files (three ship with the package: tutor, travel planner and
health information), never from the person's persona.
"""

from client.app_profiles.builtin import builtin_profile, builtin_profile_names
from client.app_profiles.profile import (
    DEFAULT_REPLY_RESERVE_TOKENS,
    AppProfile,
    AppProfileError,
    load_app_profile,
    parse_app_profile,
    parse_app_profile_text,
)

__all__ = [
    "DEFAULT_REPLY_RESERVE_TOKENS",
    "AppProfile",
    "AppProfileError",
    "builtin_profile",
    "builtin_profile_names",
    "load_app_profile",
    "parse_app_profile",
    "parse_app_profile_text",
]
