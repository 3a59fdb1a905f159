"""A real OpenLDAP server (Debian's slapd) for the directory tests: started on 127.0.0.1 at free ports (plain LDAP
with StartTLS, and LDAPS) with a throwaway configuration, a self-signed certificate and the memberof overlay, seeded
with a company: people, the groups that give kb roles, a group that makes an audience, a disabled account, a
person in no kb group."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=corp,dc=example"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
SERVICE_DN = f"cn=kb-search,{SUFFIX}"
SERVICE_PASSWORD = "service-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SALES_GROUP = f"cn=kb-sales,{GROUPS}"
MARKETING_GROUP = f"cn=kb-marketing,{GROUPS}"
ADMIN_GROUP = f"cn=kb-admins,{GROUPS}"
#: A groupOfUniqueNames: the memberof overlay does not see it, only a group search (KB_LDAP_GROUP_BASE_DN) does.
UNIQUE_MARKETING_GROUP = f"cn=kb-marketing-unique,{GROUPS}"
#: A group that gives no role but puts its members in a kb audience (KB_LDAP_AUDIENCE_GROUPS).
DEALERS_GROUP = f"cn=kb-dealers,{GROUPS}"
DEALERS_AUDIENCE = "Дилерский отдел"
AUDIENCE_GROUPS = f"{DEALERS_AUDIENCE}={DEALERS_GROUP}"
ROLE_GROUPS = f"admin={ADMIN_GROUP};marketing={MARKETING_GROUP};marketing={UNIQUE_MARKETING_GROUP};sales={SALES_GROUP}"

#: People seeded at start: uid -> (name, department, groups, disabled).
SEEDED = {
    "ivanov": ("Иван Иванов", "Продажи", [SALES_GROUP, DEALERS_GROUP], False),
    "petrova": ("Мария Петрова", "Маркетинг", [MARKETING_GROUP], False),
    "sidorov": ("Олег Сидоров", "ИТ", [ADMIN_GROUP, SALES_GROUP], False),
    "blocked": ("Борис Блокированный", "Продажи", [SALES_GROUP], True),
    "outsider": ("Ольга Посторонняя", "Бухгалтерия", [], False),
}


def password_of(uid: str) -> str:
    return f"{uid}-company-pass"


def dn_of(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def email_of(uid: str) -> str:
    return f"{uid}@corp.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def available() -> bool:
    return Path(SLAPD).exists()


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


_CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {root}/slapd.pid
argsfile {root}/slapd.args
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {root}/data
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="{service_dn}" read by self read by * none
"""


@dataclass
class LdapServer:
    """A running slapd: its addresses, its certificate, and helpers to change the directory as its admin would."""

    root: Path
    port: int
    tls_port: int
    ca_file: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.tls_port}"

    def settings(self, **extra: str) -> dict[str, str]:
        """kb settings that sign people in with this directory (``extra`` on top)."""
        return {
            "KB_LDAP_URL": self.url,
            "KB_LDAP_BASE_DN": PEOPLE,
            "KB_LDAP_BIND_DN": SERVICE_DN,
            "KB_LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
            "KB_LDAP_ROLE_GROUPS": ROLE_GROUPS,
            "KB_LDAP_AUDIENCE_GROUPS": AUDIENCE_GROUPS,
            "KB_LDAP_USER_FILTER": "(objectClass=inetOrgPerson)",
            "KB_LDAP_DISABLED_FILTER": "(employeeType=disabled)",
            "KB_LDAP_TIMEOUT": "3",
            **extra,
        }

    @contextmanager
    def admin(self) -> Iterator[Any]:
        """A connection as the directory's root (ldap3's own ``with`` would leave an auto-bound one open)."""
        from ldap3 import Connection, Server

        connection = Connection(Server("127.0.0.1", port=self.port), ROOT_DN, ROOT_PASSWORD, auto_bind=True)
        try:
            yield connection
        finally:
            connection.unbind()

    def add_person(
        self, uid: str, name: str = "", department: str = "", groups: list[str] = (), disabled: bool = False
    ) -> str:
        attributes = {
            "objectClass": ["inetOrgPerson"],
            "uid": uid,
            "cn": name or uid,
            "sn": (name or uid).split()[-1],
            "displayName": name or uid,
            "mail": email_of(uid),
            "userPassword": password_of(uid),
        }
        if department:
            attributes["departmentNumber"] = department
        if disabled:
            attributes["employeeType"] = "disabled"
        with self.admin() as connection:
            assert connection.add(dn_of(uid), attributes=attributes), connection.result
        for group in groups:
            self.add_to_group(uid, group)
        return dn_of(uid)

    def add_to_group(self, uid: str, group: str) -> None:
        from ldap3 import MODIFY_ADD

        attribute = "uniqueMember" if group == UNIQUE_MARKETING_GROUP else "member"
        with self.admin() as connection:
            assert connection.modify(group, {attribute: [(MODIFY_ADD, [dn_of(uid)])]}), connection.result

    def remove_from_group(self, uid: str, group: str) -> None:
        from ldap3 import MODIFY_DELETE

        attribute = "uniqueMember" if group == UNIQUE_MARKETING_GROUP else "member"
        with self.admin() as connection:
            assert connection.modify(group, {attribute: [(MODIFY_DELETE, [dn_of(uid)])]}), connection.result

    def modify(self, uid: str, **values: str) -> None:
        from ldap3 import MODIFY_REPLACE

        with self.admin() as connection:
            changes = {name: [(MODIFY_REPLACE, [value])] for name, value in values.items()}
            assert connection.modify(dn_of(uid), changes), connection.result

    def delete(self, uid: str) -> None:
        with self.admin() as connection:
            assert connection.delete(dn_of(uid)), connection.result

    def _seed(self) -> None:
        with self.admin() as connection:
            entries = [
                (SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": "corp", "o": "Corp"}),
                (PEOPLE, {"objectClass": ["organizationalUnit"], "ou": "people"}),
                (GROUPS, {"objectClass": ["organizationalUnit"], "ou": "groups"}),
                (
                    SERVICE_DN,
                    {
                        "objectClass": ["applicationProcess", "simpleSecurityObject"],
                        "cn": "kb-search",
                        "userPassword": SERVICE_PASSWORD,
                    },
                ),
            ]
            # groupOfNames needs a member: the admin stands in, and is in no kb group's role mapping.
            for group in (SALES_GROUP, MARKETING_GROUP, ADMIN_GROUP, DEALERS_GROUP):
                cn = group.split(",", 1)[0].split("=", 1)[1]
                entries.append((group, {"objectClass": ["groupOfNames"], "cn": cn, "member": [ROOT_DN]}))
            entries.append(
                (
                    UNIQUE_MARKETING_GROUP,
                    {"objectClass": ["groupOfUniqueNames"], "cn": "kb-marketing-unique", "uniqueMember": [ROOT_DN]},
                )
            )
            for dn, attributes in entries:
                assert connection.add(dn, attributes=attributes), (dn, connection.result)
        for uid, (name, department, groups, disabled) in SEEDED.items():
            self.add_person(uid, name, department, groups, disabled)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(root: Path) -> LdapServer:
    """Starts slapd under ``root`` and seeds it; the caller stops it (``LdapServer.stop``)."""
    (root / "data").mkdir(parents=True)
    cert, key = _certificate(root)
    config = root / "slapd.conf"
    config.write_text(
        _CONFIG.format(
            root=root,
            cert=cert,
            key=key,
            suffix=SUFFIX,
            root_dn=ROOT_DN,
            root_password=ROOT_PASSWORD,
            service_dn=SERVICE_DN,
        ),
        encoding="utf-8",
    )
    port, tls_port = free_port(), free_port()
    log = open(root / "slapd.log", "wb")  # noqa: SIM115 - kept open for the server's life
    # -d 0: stay in the foreground (so the process is the server, stopped by its pid) and log nothing but errors.
    process = subprocess.Popen(
        [SLAPD, "-f", str(config), "-h", f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/", "-d", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LdapServer(root=root, port=port, tls_port=tls_port, ca_file=cert, process=process)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            log.close()
            raise RuntimeError("slapd did not start:\n" + (root / "slapd.log").read_text(errors="replace"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("slapd did not listen within 15 s") from None
            time.sleep(0.05)
    log.close()
    try:
        server._seed()
    except BaseException:
        server.stop()
        raise
    return server


def remove(server: LdapServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
