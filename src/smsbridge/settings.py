"""The one settings model: defaults, then a TOML file, then SMSBRIDGE_* environment variables."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "SMSBRIDGE_"
ENV_NESTED_DELIMITER = "__"


class HttpSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8080, description="Port the HTTP API listens on.")


class DatabaseSettings(BaseModel):
    url: str = Field(
        "sqlite:///data/smsbridge.db",
        description=(
            "SQLAlchemy URL. sqlite:///path for the embedded default, "
            "postgresql+psycopg://user@host/db for PostgreSQL."
        ),
    )
    auto_migrate: bool = Field(True, description="Apply pending migrations when `serve` starts.")


class SimulatorSettings(BaseModel):
    receipt_delay_seconds: float = Field(
        1.0, description="Delay before the simulated carrier reports delivery."
    )
    submit_delay_ms: float = Field(
        0.0, description="Extra latency per submitted batch, to imitate a slow carrier."
    )
    poll_interval_seconds: float = Field(
        0.2, description="How often the simulator looks for due receipts."
    )


class CarrierSettings(BaseModel):
    kind: Literal["simulator"] = Field(
        "simulator", description="Which carrier adapter sends SMS (only `simulator` so far)."
    )
    simulator: SimulatorSettings = SimulatorSettings()


class PipelineSettings(BaseModel):
    workers: int = Field(1, description="Outbound worker tasks in this process.")
    batch_size: int = Field(500, description="Messages one worker claims per round.")
    poll_interval_seconds: float = Field(
        0.2, description="Idle wait between claims when the queue is empty."
    )
    in_flight_timeout_seconds: float = Field(
        60.0,
        description=(
            "A message claimed longer ago than this, by a worker that never finished, is "
            "reconciled with the carrier instead of being resent blindly."
        ),
    )


class BillingSettings(BaseModel):
    home_region: str = Field(
        "GB", description="ISO country of the gateway: national numbers and domestic rates."
    )
    rates_file: str = Field(
        "", description="TOML rate table overriding the shipped one (empty: shipped table)."
    )
    smart_encoding: bool = Field(
        False,
        description="Replace look-alike characters with GSM ones when that avoids UCS-2.",
    )


class ApiSettings(BaseModel):
    max_schedule_days: int = Field(
        90, description="How far ahead a message may be scheduled, in days."
    )
    max_batch_size: int = Field(5000, description="Most destinations in one batch.")
    max_content_length: int = Field(1280, description="Most characters in one message.")


class Settings(BaseSettings):
    """Everything smsbridge can be told; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
    )

    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    carrier: CarrierSettings = CarrierSettings()
    pipeline: PipelineSettings = PipelineSettings()
    billing: BillingSettings = BillingSettings()
    api: ApiSettings = ApiSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file, which arrives as init kwargs: that is the documented order.
        return (env_settings, init_settings)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read the TOML file (if any) and let SMSBRIDGE_* variables override it."""
    data: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    return Settings(**data)


def describe_settings(settings: Settings) -> list[dict[str, Any]]:
    """Every leaf setting with its value, default and environment variable (for `config show`)."""
    rows: list[dict[str, Any]] = []

    def walk(model: BaseModel, default: BaseModel, prefix: list[str]) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            default_value = getattr(default, name)
            if isinstance(value, BaseModel):
                walk(value, default_value, [*prefix, name])
                continue
            path = [*prefix, name]
            rows.append(
                {
                    "name": ".".join(path),
                    "value": value,
                    "default": default_value,
                    "env": ENV_PREFIX + ENV_NESTED_DELIMITER.join(p.upper() for p in path),
                    "description": field.description or "",
                }
            )

    walk(settings, Settings.model_construct(), [])
    return rows
