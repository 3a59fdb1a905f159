"""Directory and single sign-on settings, single sign-on with local accounts, and Active Directory's disabled flag:
what needs no directory server (tests/test_directory.py has the rest, against slapd)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from conftest import PASSWORD, app_config
from kb import accounts, create_app
from kb.config import ConfigError, load_settings
from kb.directory import ad_disabled

# ---: single sign-on with local accounts, settings, AD's userAccountControl -------------------------


@pytest.fixture
def local_sso_app(instance_dir: Path) -> Iterator[Flask]:
    application = create_app(app_config(instance_dir, KB_SSO_HEADER="X-Remote-User", KB_SSO_PROXIES="10.0.0.0/8"))
    yield application
    application.extensions["kb_db"].dispose()


def test_sso_without_a_directory_signs_in_existing_active_accounts_only(local_sso_app) -> None:
    db = local_sso_app.extensions["kb_db"]
    user = accounts.create_user(db, "anna@example.com", PASSWORD, "sales", "Анна")
    client = local_sso_app.test_client()
    proxy = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/profile", headers={"X-Remote-User": "Anna@Example.com"}, environ_base=proxy).status_code == 200
    other = local_sso_app.test_client()
    assert (
        other.get("/profile", headers={"X-Remote-User": "stranger@example.com"}, environ_base=proxy).status_code == 302
    )
    with db.session() as session:
        assert accounts.find_user(session, "stranger@example.com") is None
    accounts.set_active(db, user.id, False)
    fresh = local_sso_app.test_client()
    assert fresh.get("/profile", headers={"X-Remote-User": "anna@example.com"}, environ_base=proxy).status_code == 302
    outside = local_sso_app.test_client()
    response = outside.get(
        "/profile", headers={"X-Remote-User": "anna@example.com"}, environ_base={"REMOTE_ADDR": "11.0.0.1"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"KB_LDAP_URL": "http://dc1"}, "KB_LDAP_URL must be"),
        ({"KB_LDAP_URL": "ldap://dc1", "KB_LDAP_ROLE_GROUPS": "sales=cn=kb,dc=x"}, "KB_LDAP_BASE_DN"),
        ({"KB_LDAP_URL": "ldap://dc1", "KB_LDAP_BASE_DN": "dc=x"}, "KB_LDAP_ROLE_GROUPS must name"),
        ({"KB_LDAP_URL": "ldap://dc1", "KB_LDAP_BASE_DN": "dc=x", "KB_LDAP_ROLE_GROUPS": "boss=cn=a,dc=x"}, "roles:"),
        ({"KB_LDAP_URL": "ldap://dc1", "KB_LDAP_BASE_DN": "dc=x", "KB_LDAP_ROLE_GROUPS": "sales=kb"}, "not a group DN"),
        (
            {
                "KB_LDAP_URL": "ldaps://dc1",
                "KB_LDAP_STARTTLS": "1",
                "KB_LDAP_BASE_DN": "dc=x",
                "KB_LDAP_ROLE_GROUPS": "sales=*",
            },
            "KB_LDAP_STARTTLS is for ldap://",
        ),
        (
            {
                "KB_LDAP_URL": "ldap://dc1",
                "KB_LDAP_BASE_DN": "dc=x",
                "KB_LDAP_ROLE_GROUPS": "sales=*",
                "KB_LDAP_USER_FILTER": "objectClass=person",
            },
            "KB_LDAP_USER_FILTER must be an LDAP filter",
        ),
        (
            {
                "KB_LDAP_URL": "ldap://dc1",
                "KB_LDAP_BASE_DN": "dc=x",
                "KB_LDAP_ROLE_GROUPS": "sales=*",
                "KB_LDAP_BIND_DN": "cn=svc,dc=x",
            },
            "KB_LDAP_BIND_PASSWORD must be set",
        ),
        ({"KB_SSO_HEADER": "X-Remote-User"}, "KB_SSO_PROXIES must name"),
        ({"KB_SSO_HEADER": "X-Remote-User", "KB_SSO_PROXIES": "proxy.local"}, "KB_SSO_PROXIES must be IP"),
        ({"KB_SSO_HEADER": "X Remote: User", "KB_SSO_PROXIES": "10.0.0.1"}, "KB_SSO_HEADER must be a header name"),
    ],
)
def test_bad_directory_and_sso_settings_are_one_line_errors(tmp_path: Path, settings, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({"KB_INSTANCE_DIR": str(tmp_path), **settings}, environ={})


def test_role_groups_are_compared_whatever_the_case_and_spacing(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "KB_INSTANCE_DIR": str(tmp_path),
            "KB_LDAP_URL": "ldaps://dc1.corp.example ldaps://dc2.corp.example",
            "KB_LDAP_BASE_DN": "DC=corp,DC=example",
            "KB_LDAP_ROLE_GROUPS": "Admin = CN=KB Admins, OU=Groups,DC=corp,DC=example ; sales=*",
        },
        environ={},
    ).directory
    assert settings.urls == ("ldaps://dc1.corp.example", "ldaps://dc2.corp.example")
    assert settings.role_groups == (("admin", "cn=kb admins,ou=groups,dc=corp,dc=example"), ("sales", "*"))


@pytest.mark.parametrize(
    ("value", "disabled"), [("512", False), ("514", True), ("66050", True), ("66048", False), ("junk", False)]
)
def test_active_directory_disabled_flag(value: str, disabled: bool) -> None:
    assert ad_disabled({"userAccountControl": [value]}) is disabled
    assert ad_disabled({}) is False
