"""Configuration: precedence flags > env > TOML file > defaults, and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibeweaver.config import Config, sqlite_path
from vibeweaver.errors import ConfigError


def test_defaults_follow_the_spec(tmp_path: Path) -> None:
    config = Config.load({}, env={"XDG_DATA_HOME": str(tmp_path)}, config_file=None)
    assert config.data_dir == tmp_path / "vibeweaver"
    assert config.db_url == f"sqlite:///{tmp_path / 'vibeweaver' / 'vibeweaver.db'}"
    assert config.router == "tcp://127.0.0.1:5575"
    assert config.hootenanny == "tcp://localhost:5580"
    assert config.broadcasts == "tcp://localhost:5581"
    assert config.http == "127.0.0.1:8765"
    assert config.mcp == "none"
    assert config.eval_timeout == 20.0
    assert config.session is None  # resume the session current when the service last ran


def test_flags_win_over_env_which_wins_over_the_file(tmp_path: Path) -> None:
    config_file = tmp_path / "vw.toml"
    config_file.write_text('session = "from_file"\neval_timeout = 7\nrouter = "none"\n')
    env = {"VIBEWEAVER_SESSION": "from_env", "VIBEWEAVER_EVAL_TIMEOUT": "9"}
    config = Config.load({"session": "from_flag"}, env=env, config_file=config_file)
    assert config.session == "from_flag"
    assert config.eval_timeout == 9.0
    assert config.router is None


def test_a_toml_file_may_use_a_vibeweaver_table(tmp_path: Path) -> None:
    config_file = tmp_path / "vw.toml"
    config_file.write_text('[vibeweaver]\nhttp = "127.0.0.1:9999"\n')
    assert Config.load({}, env={}, config_file=config_file).http == "127.0.0.1:9999"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"db": "mysql://x"}, "is not a database URL"),
        ({"db": "postgresql://vw:secret@localhost/vw"}, "must not carry the PostgreSQL password"),
        ({"db": "postgresql://localhost/vw?password=x"}, "must not carry the PostgreSQL password"),
        ({"db": "postgresql://localhost:99999/vw"}, "the port is not a number"),
        ({"db": "postgresql://localhost"}, "names no database"),
        ({"db_password_file": "/etc/hostname"}, "is for a PostgreSQL --db"),
        ({"router": "127.0.0.1:5575"}, "is not a ZeroMQ endpoint"),
        ({"http": "localhost"}, "is not HOST:PORT"),
        ({"eval_timeout": "soon"}, "must be a number of seconds"),
        ({"eval_timeout": "-1"}, "between 0 and 3600"),
        ({"mcp": "carrier-pigeon"}, "--mcp must be one of"),
        ({"log_level": "loud"}, "--log-level must be one of"),
        ({"http": "0.0.0.0:8765"}, "requires --token"),
        ({"router": "tcp://0.0.0.0:5575"}, "requires --token"),
    ],
)
def test_bad_values_give_one_readable_sentence(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.load(flags, env={}, config_file=None)


def test_non_loopback_binding_is_allowed_with_a_token() -> None:
    config = Config.load({"http": "0.0.0.0:8765", "token": "s3cret"}, env={}, config_file=None)
    assert config.http_host_port == ("0.0.0.0", 8765)


def test_a_broken_toml_file_names_the_file(tmp_path: Path) -> None:
    config_file = tmp_path / "broken.toml"
    config_file.write_text("session = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml is not valid TOML"):
        Config.load({}, env={}, config_file=config_file)


def test_unknown_settings_in_the_file_are_refused(tmp_path: Path) -> None:
    config_file = tmp_path / "vw.toml"
    config_file.write_text('sesion = "typo"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        Config.load({}, env={}, config_file=config_file)


def test_sqlite_urls_map_to_paths() -> None:
    assert sqlite_path("sqlite:////var/lib/vw.db") == Path("/var/lib/vw.db")
    assert sqlite_path("sqlite:///relative.db") == Path("relative.db")
    assert sqlite_path("sqlite:///:memory:") is None


def test_hootenanny_and_generation_timeouts_default_and_load_from_env_and_file(
    tmp_path: Path,
) -> None:
    from vibeweaver.generation import DEFAULT_TIMEOUT_S

    defaults = Config.load({}, env={}, config_file=None)
    assert defaults.hootenanny_timeout == 10.0
    assert defaults.generation_timeout == DEFAULT_TIMEOUT_S == 900.0
    env = {"VIBEWEAVER_HOOTENANNY_TIMEOUT": "2.5", "VIBEWEAVER_GENERATION_TIMEOUT": "120"}
    from_env = Config.load({}, env=env, config_file=None)
    assert (from_env.hootenanny_timeout, from_env.generation_timeout) == (2.5, 120.0)
    config_file = tmp_path / "vw.toml"
    config_file.write_text("hootenanny_timeout = 4\ngeneration_timeout = 60\n")
    from_file = Config.load({}, env={}, config_file=config_file)
    assert (from_file.hootenanny_timeout, from_file.generation_timeout) == (4.0, 60.0)


def test_the_timeout_flags_reach_the_config_and_win_over_env() -> None:
    from vibeweaver.cli import _flags, build_parser

    for command in ("serve", "mcp"):
        args = build_parser().parse_args(
            [command, "--hootenanny-timeout", "3.5", "--generation-timeout", "45"]
        )
        env = {"VIBEWEAVER_HOOTENANNY_TIMEOUT": "9", "VIBEWEAVER_GENERATION_TIMEOUT": "99"}
        config = Config.load(_flags(args), env=env, config_file=None)
        assert config.hootenanny_timeout == 3.5
        assert config.generation_timeout == 45.0
    unset = build_parser().parse_args(["serve"])
    assert Config.load(_flags(unset), env={}, config_file=None).generation_timeout == 900.0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"hootenanny_timeout": "soon"}, "--hootenanny-timeout must be a number of seconds"),
        ({"hootenanny_timeout": "0"}, "--hootenanny-timeout must be a positive number"),
        ({"hootenanny_timeout": "nan"}, "--hootenanny-timeout must be a positive number"),
        ({"generation_timeout": "later"}, "--generation-timeout must be a number of seconds"),
        ({"generation_timeout": "0"}, "--generation-timeout must be between 0 and 86400"),
        ({"generation_timeout": "-5"}, "--generation-timeout must be between 0 and 86400"),
        ({"generation_timeout": "inf"}, "--generation-timeout must be between 0 and 86400"),
        ({"generation_timeout": "86401"}, "--generation-timeout must be between 0 and 86400"),
    ],
)
def test_bad_timeouts_give_one_readable_sentence(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.load(flags, env={}, config_file=None)


def test_the_weaver_builds_its_generation_client_with_the_configured_timeouts(
    tmp_path: Path,
) -> None:
    from vibeweaver.weaver import Weaver

    config = Config(
        data_dir=tmp_path,
        router=None,
        hootenanny=None,
        broadcasts=None,
        http=None,
        hootenanny_timeout=3.0,
        generation_timeout=42.0,
    )
    weaver = Weaver(config, configure_logging=False)  # built, never started: nothing to stop
    assert weaver.generation.timeout == 42.0
    assert weaver.generation.request_timeout == 3.0


def test_a_postgresql_url_is_taken_and_names_no_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    flags = {"db": "postgresql://vw@db.example:5433/studio", "db_password_file": str(secret)}
    config = Config.load(flags, env={}, config_file=None)
    assert config.is_postgres and config.db_path is None
    assert config.db_password_file == secret
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        Config.load(flags, env={}, config_file=None)
