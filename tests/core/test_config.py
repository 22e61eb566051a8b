"""Config details the CLI tests do not reach: secrets by reference and paths relative to the file."""

from __future__ import annotations

import pytest

from scaleready.api import ConfigPath, TargetOptions, collector
from scaleready.config import ConfigError, parse_config
from scaleready.plugins import Registry


class FilesOptions(TargetOptions):
    root: ConfigPath
    extra: list[ConfigPath] = []
    url: str = ""
    token: str = ""


@collector("files", options=FilesOptions)
def collect_files(target):
    return {}


def registry() -> Registry:
    reg = Registry()
    reg.collectors["files"] = collect_files
    return reg


def test_config_paths_resolve_against_the_config_folder(tmp_path):
    cfg_file = tmp_path / "conf" / "scaleready.yaml"
    text = "targets:\n  - {name: f, kind: files, root: repo, extra: [k8s/*.yaml, /abs/x], url: http://h/a}\n"
    options = parse_config(text, cfg_file, registry()).targets[0].target.options
    assert options["root"] == str(tmp_path / "conf" / "repo")
    assert options["extra"] == [str(tmp_path / "conf" / "k8s/*.yaml"), "/abs/x"]
    assert options["url"] == "http://h/a"  # not a path field: untouched


def test_secrets_from_env_default_and_file_are_resolved_and_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_TEST_TOKEN", "tok-123456")
    (tmp_path / "pw").write_text("file-secret-99\n")
    text = ("targets:\n  - name: f\n    kind: files\n    root: .\n    token: ${SR_TEST_TOKEN}\n"
            "    url: http://u:${file:pw}@h/${SR_TEST_MISSING:-db}\n")
    config = parse_config(text, tmp_path / "scaleready.yaml", registry())
    options = config.targets[0].target.options
    assert options["token"] == "tok-123456"
    assert options["url"] == "http://u:file-secret-99@h/db"
    assert config.redactor.text(f"failed {options['url']} with {options['token']}") == "failed http://u:***@h/db with ***"


def test_unresolvable_secret_fails_only_that_target(tmp_path):
    text = ("targets:\n  - {name: a, kind: files, root: ., token: '${SR_NOT_SET_ANYWHERE}'}\n"
            "  - {name: b, kind: files, root: .}\n")
    config = parse_config(text, tmp_path / "scaleready.yaml", registry())
    assert config.targets[0].secret_error == "environment variable SR_NOT_SET_ANYWHERE is not set"
    assert config.targets[1].secret_error is None


def test_type_errors_in_kind_keys_name_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"scaleready.yaml:4: targets\[0\].extra"):
        parse_config("targets:\n  - name: f\n    kind: files\n    extra: 5\n    root: x\n", tmp_path / "scaleready.yaml",
                     registry())


def test_environment_selection():
    text = ("environment: prod\ntargets:\n  - {name: a, kind: files, root: ., environment: prod}\n"
            "  - {name: b, kind: files, root: ., environment: staging}\n  - {name: c, kind: files, root: .}\n")
    config = parse_config(text, "scaleready.yaml", registry())
    assert [t.target.name for t in config.select()] == ["a", "c"]
    assert [t.target.name for t in config.select("staging")] == ["b", "c"]


def test_project_key_defaults_and_is_validated():
    from scaleready.config import ConfigError, parse_config

    assert parse_config("targets: []\n", "scaleready.yaml").project == "default"
    assert parse_config("project: shop-eu\ntargets: []\n", "scaleready.yaml").project == "shop-eu"
    with pytest.raises(ConfigError, match="project"):
        parse_config("project: 'no spaces allowed'\ntargets: []\n", "scaleready.yaml")
