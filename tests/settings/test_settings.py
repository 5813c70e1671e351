"""Settings: defaults, the TOML file, environment overrides, and docs that stay true."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsbridge.settings import Settings, describe_settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_embedded_defaults():
    settings = Settings()
    assert settings.database.url.startswith("sqlite:///data/")
    assert settings.carrier.kind == "simulator"
    assert settings.mail.out.transport == "maildir"
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8080)


def test_toml_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "smsbridge.toml"
    path.write_text('[http]\nport = 9000\nhost = "0.0.0.0"\n[mail]\ndomain = "a.test"\n')
    monkeypatch.setenv("SMSBRIDGE_HTTP__PORT", "9100")
    settings = load_settings(path)
    assert settings.http.port == 9100  # the environment wins
    assert settings.http.host == "0.0.0.0"  # the file beats the default
    assert settings.mail.domain == "a.test"


def test_unknown_setting_in_file_is_an_error(tmp_path: Path):
    path = tmp_path / "smsbridge.toml"
    path.write_text("[http]\nprot = 9000\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(path)


def test_every_setting_is_documented_with_its_default():
    text = DOCS.read_text(encoding="utf-8")
    for row in describe_settings(Settings()):
        assert f"`{row['env']}`" in text, f"{row['name']} is missing from {DOCS.name}"
        assert row["description"], f"{row['name']} has no description"


def test_every_smpp_connector_setting_is_documented():
    from smsbridge.settings import SmppConnectorSettings

    text = DOCS.read_text(encoding="utf-8")
    for name, field in SmppConnectorSettings.model_fields.items():
        assert f"| `{name}` |" in text, f"connector setting {name} is missing from {DOCS.name}"
        assert field.description, f"connector setting {name} has no description"


def test_an_error_override_for_a_code_that_is_not_one_fails_at_load(tmp_path: Path):
    path = tmp_path / "smsbridge.toml"
    path.write_text(
        '[[carrier.smpp.connectors]]\nname = "a"\n'
        '[carrier.smpp.connectors.errors]\n"ESME_RNOSUCH" = { class = "temporary" }\n'
    )
    with pytest.raises(ValueError, match="ESME_RNOSUCH"):
        load_settings(path)
    path.write_text(
        '[[carrier.smpp.connectors]]\nname = "a"\n'
        '[carrier.smpp.connectors.errors]\n"0x45" = { class = "temporary", retries = 5 }\n'
    )
    override = load_settings(path).carrier.smpp.connectors[0].errors["0x45"]
    assert (override.error_class, override.retries) == ("temporary", 5)


def test_every_twilio_android_and_route_setting_is_documented():
    from smsbridge.settings import AndroidPhoneSettings, RouteSettings, TwilioAccountSettings

    text = DOCS.read_text(encoding="utf-8")
    for model in (TwilioAccountSettings, AndroidPhoneSettings, RouteSettings):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert f"| `{name}` |" in text and field.description in text, (
                f"{model.__name__}.{name} is missing from {DOCS.name} (or its text differs)"
            )


def test_routes_naming_an_unconfigured_carrier_fail_at_start(tmp_path: Path):
    from smsbridge.app import Gateway

    path = tmp_path / "smsbridge.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/x.db"\n'
        '[carrier]\nkind = "routed"\n[[carrier.routes]]\ncarrier = "nosuch"\n'
    )
    with pytest.raises(ValueError, match="nosuch"):
        Gateway(load_settings(path))
