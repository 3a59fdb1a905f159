"""The README keeps up with the code: every setting, CLI command and API route is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from kb.cli import main

PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "kb") -> list[str]:
    names = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            names += _commands(command, path)
        else:
            names.append(path)
    return names


def test_readme_starts_with_the_two_commands() -> None:
    head = README[: README.index("## Configuration")]
    assert "make run" in head and "make test" in head


def test_every_cli_command_is_documented() -> None:
    commands = _commands(main)
    assert len(commands) >= 9
    missing = [c for c in commands if f"`{c}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_api_route_is_documented(app) -> None:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            path = PLACEHOLDER.sub(r"<\1>", rule.rule)
            routes.append(f"{method} {path}")
    assert routes
    missing = [r for r in routes if f"`{r}" not in README]
    assert not missing, f"API routes missing from README.md: {missing}"
