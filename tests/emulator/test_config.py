"""Settings: loopback only, bounded values, environment overrides."""

import pytest

from emulator.config import EmulatorConfig
from emulator.errors import ConfigError


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com"])
def test_the_emulator_refuses_to_bind_anything_but_loopback(host):
    with pytest.raises(ConfigError, match="loopback"):
        EmulatorConfig(host=host)


def test_environment_overrides_defaults_and_arguments_override_the_environment():
    env = {"EMULATOR_PORT": "4600", "EMULATOR_LAMBDA_CONCURRENCY": "3", "EMULATOR_ASYNC_RETRY_DELAYS": "0.1,0.2"}
    config = EmulatorConfig.from_env(env, port=4700)
    assert (config.port, config.account_concurrency, config.async_retry_delays) == (4700, 3, (0.1, 0.2))
    assert config.endpoint_url == "http://127.0.0.1:4700"


@pytest.mark.parametrize("env", [{"EMULATOR_ASYNC_RETRY_DELAYS": "1"}, {"EMULATOR_ASYNC_RETRY_DELAYS": "a,b"},
                                 {"EMULATOR_LAMBDA_CONCURRENCY": "0"}])
def test_bad_settings_are_clear_errors(env):
    with pytest.raises(ConfigError):
        EmulatorConfig.from_env(env)


def test_state_settings_come_from_the_environment():
    env = {"EMULATOR_PERSISTENCE": "0", "EMULATOR_SNAPSHOT_SECONDS": "2.5", "EMULATOR_RETENTION_SWEEP_SECONDS": "5",
           "EMULATOR_METRICS_RETENTION_DAYS": "15", "EMULATOR_FUNCTION_ENV_DAYS": "30"}
    config = EmulatorConfig.from_env(env)
    assert (config.persist, config.snapshot_seconds, config.retention_sweep_seconds,
            config.metrics_retention_days, config.function_env_days) == (False, 2.5, 5.0, 15.0, 30.0)
    assert EmulatorConfig.from_env({}).persist, "state on disk is on by default (opt-out)"


@pytest.mark.parametrize("env", [{"EMULATOR_PERSISTENCE": "maybe"}, {"EMULATOR_SNAPSHOT_SECONDS": "0"},
                                 {"EMULATOR_FUNCTION_ENV_DAYS": "0"}, {"EMULATOR_FUNCTION_ENV_DAYS": "soon"}])
def test_bad_state_settings_are_clear_errors(env):
    with pytest.raises(ConfigError):
        EmulatorConfig.from_env(env)
