"""Settings (defaults < file < env < flags) and the persona prompt."""

from aiway.config.describe import describe, format_value
from aiway.config.errors import ConfigError
from aiway.config.loader import (
    CONFIG_ENV,
    OLLAMA_HOST_ENV,
    REDUCE_MOTION_ENV,
    LoadedSettings,
    env_name,
    flag_name,
    load_settings,
)
from aiway.config.ollama_host import ollama_base_url
from aiway.config.paths import (
    default_config_path,
    default_history_path,
    default_log_file,
    default_socket_path,
)
from aiway.config.persona import load_persona, packaged_persona
from aiway.config.settings import (
    SETTING_KEYS,
    AvatarSettings,
    AvatarSize,
    Backend,
    ConversationSettings,
    DaemonSettings,
    EmbeddedSettings,
    HistorySettings,
    LogLevel,
    MailboxSettings,
    OllamaSettings,
    SettingKey,
    Settings,
    SupervisionSettings,
    TagsSettings,
    value_of,
)

__all__ = [
    "CONFIG_ENV",
    "OLLAMA_HOST_ENV",
    "REDUCE_MOTION_ENV",
    "SETTING_KEYS",
    "AvatarSettings",
    "AvatarSize",
    "Backend",
    "ConfigError",
    "ConversationSettings",
    "DaemonSettings",
    "EmbeddedSettings",
    "HistorySettings",
    "LoadedSettings",
    "LogLevel",
    "MailboxSettings",
    "OllamaSettings",
    "SettingKey",
    "Settings",
    "SupervisionSettings",
    "TagsSettings",
    "default_config_path",
    "default_history_path",
    "default_log_file",
    "default_socket_path",
    "describe",
    "env_name",
    "flag_name",
    "format_value",
    "load_persona",
    "load_settings",
    "ollama_base_url",
    "packaged_persona",
    "value_of",
]
