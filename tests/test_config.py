"""Settings: defaults, environment overrides, the generated secret key, and one-line errors for bad values."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kb import create_app
from kb.config import SETTINGS, ConfigError, load_settings


def test_defaults_live_under_the_instance_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"KB_INSTANCE_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    assert settings.index_dir == tmp_path / "index" and settings.index_dir.is_dir()
    assert settings.blob_dir == tmp_path / "blobs" and settings.blob_dir.is_dir()
    assert settings.max_upload_mb == 100
    assert settings.secure_cookies is False
    assert settings.password_reset_hours == 1
    assert settings.extraction_fork_server is True
    assert settings.audit_days == 365


def test_environment_overrides_and_mapping_overrides_environment(tmp_path: Path) -> None:
    environ = {
        "KB_INSTANCE_DIR": str(tmp_path),
        "KB_INDEX_DIR": str(tmp_path / "elsewhere"),
        "KB_MAX_UPLOAD_MB": "7",
        "KB_SECURE_COOKIES": "yes",
        "KB_EXTRACTION_FORKSERVER": "0",
    }
    settings = load_settings({"KB_MAX_UPLOAD_MB": 3}, environ=environ)
    assert settings.index_dir == tmp_path / "elsewhere"
    assert settings.max_upload_mb == 3
    assert settings.secure_cookies is True
    assert settings.extraction_fork_server is False


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings(environ={"KB_INSTANCE_DIR": str(tmp_path)})
    second = load_settings(environ={"KB_INSTANCE_DIR": str(tmp_path)})
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = load_settings(environ={"KB_INSTANCE_DIR": str(tmp_path / "other")})
    assert other.secret_key != first.secret_key


def test_explicit_secret_key_is_used(tmp_path: Path) -> None:
    key = "k" * 40
    settings = load_settings(environ={"KB_INSTANCE_DIR": str(tmp_path), "KB_SECRET_KEY": key})
    assert settings.secret_key == key
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("KB_MAX_UPLOAD_MB", "abc", "KB_MAX_UPLOAD_MB must be a whole number"),
        ("KB_MAX_UPLOAD_MB", "0", "KB_MAX_UPLOAD_MB must be between 1 and"),
        ("KB_SESSION_HOURS", "-4", "KB_SESSION_HOURS must be between"),
        ("KB_DATABASE_URL", "not a url", "KB_DATABASE_URL is not a database URL"),
        ("KB_DATABASE_URL", "mysql://u@h/db", "KB_DATABASE_URL must be a sqlite:// or postgresql:// URL"),
        ("KB_SECRET_KEY", "short", "KB_SECRET_KEY must be at least 32 characters"),
        ("KB_SECURE_COOKIES", "maybe", "KB_SECURE_COOKIES must be 1 or 0"),
        ("KB_EXTRACTION_FORKSERVER", "spawn", "KB_EXTRACTION_FORKSERVER must be 1 or 0"),
        ("KB_TRUSTED_PROXIES", "many", "KB_TRUSTED_PROXIES must be a whole number"),
        ("KB_TIMEZONE", "Moscow", "KB_TIMEZONE must be a time zone name"),
        ("KB_PASSWORD_RESET_HOURS", "0", "KB_PASSWORD_RESET_HOURS must be between 1 and 72"),
        ("KB_PASSWORD_RESET_HOURS", "a day", "KB_PASSWORD_RESET_HOURS must be a whole number"),
        ("KB_AUDIT_DAYS", "0", "KB_AUDIT_DAYS must be between 1 and 36500"),
        ("KB_AUDIT_DAYS", "a year", "KB_AUDIT_DAYS must be a whole number"),
        ("KB_TIMEZONE", "../../etc/passwd", "KB_TIMEZONE must be a time zone name"),
        ("KB_INDEX_DIR", "/proc/kb-index", "KB_INDEX_DIR cannot be created"),
    ],
)
def test_bad_setting_names_itself_in_one_line(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"KB_INSTANCE_DIR": str(tmp_path), name: value})
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_unknown_kb_setting_in_overrides_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KB_MAX_UPLOAD is not a kb setting"):
        load_settings({"KB_INSTANCE_DIR": str(tmp_path), "KB_MAX_UPLOAD": 5})


def test_factory_applies_settings(instance_dir: Path) -> None:
    app = create_app(
        {"KB_INSTANCE_DIR": str(instance_dir), "KB_SECRET_KEY": "s" * 40, "KB_MAX_UPLOAD_MB": 2, "TESTING": True}
    )
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SECRET_KEY"] == "s" * 40
    assert Path(app.template_folder).name == "templates"  # type: ignore[arg-type]
    app.extensions["kb_db"].dispose()


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_INSTANCE_DIR": str(tmp_path)}, **extra)
    return env


@pytest.mark.slow  # real processes
def test_wsgi_start_up_stops_with_one_line_for_a_bad_setting(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=root,
        env=_clean_env(tmp_path, KB_MAX_UPLOAD_MB="lots"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "kb: KB_MAX_UPLOAD_MB must be a whole number, got 'lots'"


@pytest.mark.slow  # real processes
def test_cli_stops_with_one_line_for_a_bad_setting(tmp_path: Path) -> None:
    kb = Path(sys.executable).parent / "kb"
    result = subprocess.run(
        [str(kb), "users", "list"],
        env=_clean_env(tmp_path, KB_DATABASE_URL="oracle://x"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: KB_DATABASE_URL must be a sqlite:// or postgresql:// URL, got 'oracle'"
    assert "Traceback" not in result.stderr


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [name for name in SETTINGS if f"`{name}`" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"
