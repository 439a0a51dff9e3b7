"""The configuration: the only parsers of flags, environment variables and YAML. Nothing below imports it.

options.py   the flat options (one row each: flag, environment variable, YAML key)
values.py    ConfigError, the parts of every error message, the flat options' parsers
fields.py    the parsers of the YAML sections' fields
limits.py    the largest value each kind of setting accepts; the size of the files read
files.py     the files read (YAML, secrets), each with a bound
policy.py    the `trackers:` and `seeding:` sections -> managers/policy.py types
actions.py   the `control:` and `completion:` sections -> actions/settings.py types
web.py       the exporter-toolkit web config file (TLS, basic auth)
settings.py  all of it -> one frozen Settings
"""

from .files import load_yaml
from .options import ENV_PREFIX, OPTIONS, Option
from .settings import SECTIONS, Settings, build_settings
from .values import DEFAULT_PORT, ConfigError

__all__ = [
    "DEFAULT_PORT",
    "ENV_PREFIX",
    "OPTIONS",
    "SECTIONS",
    "ConfigError",
    "Option",
    "Settings",
    "build_settings",
    "load_yaml",
]
