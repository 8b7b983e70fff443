"""The configuration layer: one YAML file, validated completely at start-up.

``load_config()`` returns frozen ``Settings`` or raises ``ConfigError`` whose
``problems`` name the file, line and key path of everything wrong, all at
once. ``docs/config.md`` documents every key.
"""

from contactcenter.config.durations import format_duration, parse_duration
from contactcenter.config.loader import DEFAULT_CONFIG_PATH, load_config, parse_config, validate_settings
from contactcenter.config.problems import ConfigError, ConfigProblem
from contactcenter.config.routing_bridge import to_routing_config
from contactcenter.config.schema import Settings

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "ConfigProblem",
    "Settings",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "to_routing_config",
    "validate_settings",
]
