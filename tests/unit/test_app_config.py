"""The app's environment configuration: defaults, parsing, every problem reported at once."""

from __future__ import annotations

import pytest

from hpabench_refapp.config import WORK_MAX_COST, ConfigError, Settings


def test_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.port, settings.db_pool_max, settings.cache_ttl_s) == (8080, 10, 30)
    assert settings.work_default_cost == 20_000 and settings.log_level == "warning"


def test_values_are_parsed_and_trimmed() -> None:
    settings = Settings.from_env(
        {
            "DB_HOST": " db.svc ",
            "DB_PORT": "6543",
            "DB_POOL_MAX": "32",
            "REDIS_PORT": "7000",
            "CACHE_TTL_S": "5",
            "SEED_ITEMS": "100",
            "WORK_DEFAULT_COST": "0",
            "LOG_LEVEL": "DEBUG",
            "PORT": "9000",
            "DB_PASSWORD": " keep spaces ",
        }
    )
    assert settings.db_host == "db.svc" and settings.db_port == 6543 and settings.db_pool_max == 32
    assert settings.redis_port == 7000 and settings.cache_ttl_s == 5 and settings.seed_items == 100
    assert settings.work_default_cost == 0 and settings.log_level == "debug" and settings.port == 9000
    assert settings.db_password == " keep spaces "  # passwords are taken verbatim


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "DB_PORT": "70000",
                "DB_POOL_MAX": "0",
                "CACHE_TTL_S": "ten",
                "WORK_DEFAULT_COST": str(WORK_MAX_COST + 1),
                "LOG_LEVEL": "loud",
                "REDIS_HOST": "$(REDIS_SERVICE_HOST)",
                "DB_HOST": "bad host!",
            }
        )
    problems = caught.value.problems
    assert len(problems) == 7
    assert "DB_PORT='70000': must be an integer in [1, 65535]" in problems
    assert "DB_POOL_MAX='0': must be an integer in [1, 1000]" in problems
    assert any(p.startswith("CACHE_TTL_S='ten'") for p in problems)
    assert any(p.startswith("LOG_LEVEL='loud': must be one of") for p in problems)
    assert any("REDIS_HOST" in p and "unexpanded variable reference" in p for p in problems)
    assert any(p.startswith("DB_HOST='bad host!'") for p in problems)
    assert str(caught.value).startswith("invalid configuration:")


def test_a_bad_password_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DB_PASSWORD": "s3cret-$(OOPS)"})
    assert "s3cret" not in str(caught.value)
    assert "DB_PASSWORD='***'" in str(caught.value)
