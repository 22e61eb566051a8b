"""A config made from the dashboard's form: valid YAML, secrets only as references."""

from __future__ import annotations

import pytest

from scaleready.config import ConfigError
from scaleready.config_builder import TargetRow, build_config_text, config_from_text


def test_rows_become_a_config_the_runner_accepts(tmp_path, monkeypatch):
    monkeypatch.setenv("PG_PASSWORD", "s3cret-pw")
    text = build_config_text([
        TargetRow("db", "postgres", "production", "dsn: postgresql://app:${PG_PASSWORD}@db/app\nmemory: 4GB"),
        TargetRow("cache", "redis", "", "url: redis://cache:6379/0", active=True),
    ])
    config = config_from_text(text, base_dir=tmp_path)
    db, cache = (c.target for c in config.targets)
    assert (db.name, db.kind, db.environment) == ("db", "postgres", "production")
    assert db.options["dsn"] == "postgresql://app:s3cret-pw@db/app"  # resolved in memory only
    assert "s3cret-pw" not in text and config.redactor.text("x s3cret-pw") == "x ***"
    assert cache.active is True and cache.environment is None
    assert [c.target.name for c in config.select("staging")] == ["cache"]


@pytest.mark.parametrize(("keys", "problem"), [
    ("dsn: postgresql://app:hunter2@db/app", "password in this URL must be a reference"),
    ("url: https://api\njwt_token: eyJhbGciOi", "jwt_token: write the secret as a reference"),
    ("url: [unclosed", "not valid YAML line 1"),
    ("- just a list", "must be 'key: value' lines"),
])
def test_literal_secrets_and_bad_keys_are_refused_with_the_row_named(keys, problem):
    with pytest.raises(ConfigError) as err:
        build_config_text([TargetRow("ok", "http", "", "url: https://x"), TargetRow("bad", "postgres", "", keys)])
    assert "target 2 (bad)" in str(err.value) and problem in str(err.value)


def test_an_uploaded_config_with_a_literal_password_is_refused():
    with pytest.raises(ConfigError, match=r"targets\[0\] \(db\).*reference"):
        config_from_text("targets:\n  - {name: db, kind: postgres, dsn: 'postgresql://a:pw@h/d'}\n", "up.yaml")


def test_an_unknown_key_names_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"up.yaml:2.*unknown key"):
        config_from_text("targets:\n  - {name: c, kind: redis, url: 'redis://x', colour: red}\n", "up.yaml",
                         base_dir=tmp_path)
