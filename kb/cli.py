"""The ``kb`` command line for admins and scripts: database, users, tokens, demo accounts, the server.

Commands are thin: they parse arguments, call the domain modules and print. A bad setting or bad input ends
the command with a one-line message and a non-zero exit status, never a traceback.

Importing this module costs only click: ``kb --help`` answers at once, and each command imports what it uses
(the database and domain modules; the web app only for ``kb serve``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kb.roles import Role

if TYPE_CHECKING:
    from kb.config import Settings
    from kb.db import Database
    from kb.search import SearchBackend
    from kb.worker import WorkerContext

DEMO_PASSWORD_DEFAULT = "kb-demo-password"
DEMO_USERS = (
    ("sales@demo.kb", "Иван Петров", Role.SALES),
    ("marketing@demo.kb", "Мария Смирнова", Role.MARKETING),
    ("admin@demo.kb", "Ольга Кузнецова", Role.ADMIN),
)
_SETTINGS = "kb_settings"


def _load_settings() -> Settings:
    from kb.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _settings() -> Settings:
    """The settings the running command loaded (in ``with_db``)."""
    return click.get_current_context().meta[_SETTINGS]


def with_db(command: Callable[..., Any]) -> Callable[..., Any]:
    """Runs ``command`` with the database as its first argument; domain errors become messages.

    The command gets the settings and the database, not the web app: building that (blueprints, templates,
    the search backend) is for ``kb serve``."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from kb import audit
        from kb.db import Database
        from kb.errors import DomainError

        settings = _load_settings()
        click.get_current_context().meta[_SETTINGS] = settings
        database = Database(settings.database_url, email_enabled=settings.smtp is not None)
        # What a command changes goes into the audit log as the command line's doing, with the command and the
        # system account that ran it in place of a browser.
        origin = audit.Origin(channel=audit.Channel.CLI, user_agent=_command_line())
        try:
            with audit.bound(origin):
                return command(database, *args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            database.dispose()

    return run


def _command_line() -> str:
    import getpass
    import socket

    path = click.get_current_context().command_path.split()[1:]
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        who = str(os.getuid())
    return f"kb {' '.join(path)} ({who}@{socket.gethostname()})"


def _require_schema(db: Database) -> None:
    from kb import migrate

    if not migrate.is_up_to_date(db):
        raise click.ClickException("the database schema is not up to date; run: kb db upgrade")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """kb: the sales-enablement knowledge base."""


# --- database ----------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Revision to upgrade to.")
@with_db
def db_upgrade(database: Database, revision: str) -> None:
    """Apply the schema migrations."""
    from kb import migrate

    migrate.upgrade(database, revision)
    click.echo(f"database at revision {migrate.current_revision(database)}")


@db.command("current")
@with_db
def db_current(database: Database) -> None:
    """Print the applied revision and whether it is the newest."""
    from kb import migrate

    current, head = migrate.current_revision(database), migrate.head_revision()
    click.echo(f"{current or 'empty'} ({'up to date' if current == head else f'newest is {head}'})")


# --- users -------------------------------------------------------------------------------------------------

ROLE_CHOICE = click.Choice([r.value for r in Role])


@main.group()
def users() -> None:
    """User accounts and API tokens."""


def _password_from_env_or_prompt() -> str:
    password = os.environ.get("KB_PASSWORD")
    if password:
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("email")
@click.option("--role", type=ROLE_CHOICE, required=True)
@click.option("--name", default="", help="Display name (default: the part of the e-mail before @).")
@with_db
def users_create(database: Database, email: str, role: str, name: str) -> None:
    """Create a user; the password comes from KB_PASSWORD, else it is asked twice."""
    from kb import accounts

    _require_schema(database)
    user = accounts.create_user(database, email, _password_from_env_or_prompt(), role, name)
    click.echo(f"created {user.email} ({user.role})")


@users.command("list")
@with_db
def users_list(database: Database) -> None:
    """List users."""
    from kb import accounts

    _require_schema(database)
    with database.session() as session:
        rows = accounts.list_users(session)
    for user in rows:
        state = "active" if user.active else "deactivated"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        click.echo(f"{user.email}\t{user.role}\t{state}\t{user.display_name}\t{user.auth_source}\tlast sign-in: {last}")


@users.command("sync")
@with_db
def users_sync(database: Database) -> None:
    """Bring directory accounts in line with the company directory (run it from cron, e.g. hourly).

    Names, e-mails, departments and roles (from groups) are updated; people disabled or removed in the directory,
    or in no kb group, are deactivated and signed out everywhere. Exits with status 1, changing nothing, when the
    directory cannot be reached."""
    from kb import directory_accounts
    from kb.directory import Directory

    _require_schema(database)
    settings = _settings()
    if settings.directory is None:
        raise click.ClickException("no company directory is configured: set KB_LDAP_URL (see README.md)")
    report = directory_accounts.sync(database, Directory(settings.directory))
    for line in report.updated:
        click.echo(f"updated {line}")
    for line in report.deactivated:
        click.echo(f"deactivated {line}")
    for email in report.reactivated:
        click.echo(f"reactivated {email}")
    for line in report.problems:
        click.echo(f"not updated {line}", err=True)
    click.echo(
        f"{report.checked} directory account(s) checked: {len(report.updated)} updated, "
        f"{len(report.deactivated)} deactivated ({report.sessions_ended} session(s) ended), "
        f"{len(report.reactivated)} reactivated, {len(report.problems)} not updated"
    )


@users.command("use-directory")
@click.argument("email")
@with_db
def users_use_directory(database: Database, email: str) -> None:
    """Switch a local account to company directory sign-in; its kb password stops working and its sign-ins end."""
    from kb import accounts

    user = accounts.use_directory(database, _user_id(database, email))
    click.echo(f"{user.email} now signs in with the company directory (its directory entry takes it over)")


def _user_id(database: Database, email: str) -> int:
    from kb import accounts

    with database.session() as session:
        user = accounts.find_user(session, email)
    if user is None:
        raise click.ClickException(f"no user with the e-mail {email}")
    return user.id


@users.command("deactivate")
@click.argument("email")
@click.option("--assets-to", "assets_to", metavar="EMAIL", help="Hand their assets to this marketing colleague.")
@with_db
def users_deactivate(database: Database, email: str, assets_to: str | None) -> None:
    """Deactivate a user; their sessions end and their tokens stop working at once."""
    from kb import accounts

    leaving = _user_id(database, email)
    if assets_to:
        handed = _hand_over(database, leaving, _user_id(database, assets_to))
        click.echo(f"{handed} asset(s) of {email} now owned by {assets_to}")
    user = accounts.set_active(database, leaving, False)
    click.echo(f"deactivated {user.email}")


def _hand_over(database: Database, from_id: int, to_id: int) -> int:
    """The leaving person's assets to a colleague, done in the name of the first active admin."""
    from sqlalchemy import select

    from kb.models import User
    from kb.publishing import Publisher

    with database.session() as session:
        admin = session.scalars(
            select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
        ).first()
    if admin is None:
        raise click.ClickException("handing over assets needs an active admin account to act as")
    context = _worker_context(database)
    publisher = Publisher(database, context.blobs, context.settings.max_upload_bytes)
    return publisher.hand_over(admin, from_id, to_id)


@users.command("activate")
@click.argument("email")
@with_db
def users_activate(database: Database, email: str) -> None:
    """Activate a deactivated user again."""
    from kb import accounts

    user = accounts.set_active(database, _user_id(database, email), True)
    click.echo(f"activated {user.email}")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
@with_db
def users_set_role(database: Database, email: str, role: str) -> None:
    """Change a user's role; it takes effect on their next request."""
    from kb import accounts

    user = accounts.set_role(database, _user_id(database, email), role)
    click.echo(f"{user.email} is now {user.role}")


@users.command("set-password")
@click.argument("email")
@click.option(
    "--password-from-env",
    is_flag=True,
    help="Take the temporary password from KB_PASSWORD instead of generating one.",
)
@with_db
def users_set_password(database: Database, email: str, password_from_env: bool) -> None:
    """Give a person a temporary password, printed alone on the last line; they choose their own at sign-in.

    Their sign-ins end everywhere and their failed attempts are forgotten; API tokens keep working."""
    from kb import accounts

    chosen = None
    if password_from_env:
        chosen = os.environ.get("KB_PASSWORD") or ""
        if not chosen:
            raise click.ClickException("--password-from-env needs the password in KB_PASSWORD")
    user, password = accounts.set_temporary_password(database, _user_id(database, email), chosen)
    click.echo(f"temporary password for {user.email} (they must choose their own at their next sign-in):")
    click.echo(password)


@users.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@with_db
def users_token(database: Database, email: str, name: str) -> None:
    """Create an API token and print it alone on the last line (it is not shown again)."""
    from kb import accounts

    new = accounts.create_token(database, _user_id(database, email), name)
    click.echo(f"API token {new.token.name!r} for {email} (shown once; keep it secret):")
    click.echo(new.secret)


# --- demo --------------------------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """Demo accounts and content."""


@demo.command("users")
@with_db
def demo_users(database: Database) -> None:
    """Create (or reset) one demo account per role and print the logins."""
    from kb import accounts

    _require_schema(database)
    password = os.environ.get("KB_DEMO_PASSWORD") or DEMO_PASSWORD_DEFAULT
    accounts.validate_password(password)
    for email, name, role in DEMO_USERS:
        with database.session() as session:
            existing = accounts.find_user(session, email)
        if existing is None:
            accounts.create_user(database, email, password, role, name)
        else:
            accounts.set_password(database, existing.id, password)
            accounts.set_role(database, existing.id, role)
            accounts.set_active(database, existing.id, True)
    click.echo("Demo accounts (e-mail / password / role):")
    for email, _name, role in DEMO_USERS:
        click.echo(f"  {email:<20} {password:<18} {role}")


@demo.command("load")
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Manifest to load (default: content/manifest.json).",
)
@with_db
def demo_load(database: Database, manifest: Path | None) -> None:
    """Import the demo content library (idempotent: a second run changes nothing)."""
    from kb import demo as demo_library
    from kb.publishing import Publisher

    _require_schema(database)
    context = _worker_context(database)
    publisher = Publisher(database, context.blobs, context.settings.max_upload_bytes)
    password = os.environ.get("KB_DEMO_PASSWORD") or DEMO_PASSWORD_DEFAULT
    report = demo_library.load(publisher, manifest or demo_library.MANIFEST, password=password)
    click.echo(
        f"demo library: {report.assets_created} asset(s) created, {report.versions_added} version(s) added, "
        f"{report.assets_unchanged} unchanged, {report.people_created} account(s) created, "
        f"{report.ratings_set} rating(s) and {report.flags_raised} flag(s) added"
    )


# --- background work and integrity ------------------------------------------------------------------------


def _worker_context(database: Database) -> WorkerContext:
    from kb.blobs import BlobStore
    from kb.worker import WorkerContext

    settings = _settings()
    return WorkerContext(db=database, blobs=BlobStore(settings.blob_dir), settings=settings)


@main.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--poll", default=0.5, show_default=True, type=click.FloatRange(0.05, 60), help="Seconds between polls.")
@click.option(
    "--index-batch",
    default=200,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Index jobs taken and written in one index commit.",
)
@with_db
def worker(database: Database, once: bool, poll: float, index_batch: int) -> None:
    """Run a background worker (text extraction and other jobs)."""
    import logging

    from kb.worker import Worker

    _require_schema(database)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    runner = Worker(_worker_context(database), batch_size=index_batch)
    if once:
        click.echo(f"ran {runner.run_until_idle()} job(s)")
        return
    runner.run_forever(poll_seconds=poll)


@main.group("jobs")
def jobs_group() -> None:
    """Background jobs."""


@jobs_group.command("list")
@with_db
def jobs_list(database: Database) -> None:
    """Count jobs by status, the queued and running ones by kind, and list the failed ones with their errors."""
    from kb import jobs
    from kb.search.indexing import still_indexing

    with database.session() as session:
        counts = jobs.counts(session)
        active = jobs.active_by_kind(session)
        waiting = still_indexing(session)
        failed = jobs.failed_jobs(session)
    click.echo(", ".join(f"{status}: {n}" for status, n in sorted(counts.items())) or "no jobs")
    for kind, by_status in active.items():
        click.echo(f"  {kind}: " + ", ".join(f"{by_status[s]} {s}" for s in ("queued", "running") if s in by_status))
    if waiting:
        click.echo(f"{waiting} new file(s) still being indexed")
    for job in failed:
        click.echo(f"failed #{job.id}\t{job.kind}\t{job.payload}\tattempts {job.attempts}\t{job.last_error}")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@with_db
def jobs_retry(database: Database, job_id: int) -> None:
    """Queue a failed job again."""
    from kb import jobs

    jobs.retry(database, job_id)
    click.echo(f"job {job_id} queued again")


@main.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with a row of metadata per file (column file: its path in the import).",
)
@click.option("--as", "actor", required=True, metavar="EMAIL", help="E-mail of the marketing user publishing.")
@click.option("--kind", default="", help="Kind of every file the manifest gives none.")
@click.option("--owner", metavar="EMAIL", help="Owner of the new assets (default: the --as user).")
@click.option("--product", default="", help="Product (a term of the product vocabulary).")
@click.option("--region", default="", help="Region (a term of the region vocabulary).")
@click.option("--language", default="ru", show_default=True, help="Language of the content: ru, en or mixed.")
@click.option("--segment", "segments", multiple=True, help="Segment (B2B, B2C, B2G); repeat for more.")
@click.option("--tag", "tags", multiple=True, help="Tag; repeat for more.")
@click.option(
    "--audience",
    "audience_ids",
    multiple=True,
    metavar="NUMBER",
    help="Restrict the new assets to this audience (its number: kb audiences list); repeat for more.",
)
@click.option("--draft", is_flag=True, help="Save the new assets as drafts instead of publishing them.")
@click.option("--dry-run", is_flag=True, help="Read and check every file and its metadata; publish nothing.")
@with_db
def import_files(
    database: Database,
    path: Path,
    manifest: Path | None,
    actor: str,
    kind: str,
    owner: str | None,
    product: str,
    region: str,
    language: str,
    segments: tuple[str, ...],
    tags: tuple[str, ...],
    audience_ids: tuple[str, ...],
    draft: bool,
    dry_run: bool,
) -> None:
    """Import a folder (with its subfolders) or a ZIP of files, each as a new asset; files already stored are
    skipped. Ends with what was refused and why; exits 1 when a file was refused."""
    import sys

    from kb import bulk_import
    from kb.errors import DomainError, ValidationError
    from kb.models import AssetStatus
    from kb.publishing import Publisher

    _require_schema(database)
    context = _worker_context(database)
    publisher = Publisher(database, context.blobs, context.settings.max_upload_bytes)
    actor_id = _option_user(database, actor, "--as")
    defaults = bulk_import.ImportDefaults(
        kind=kind.strip(),
        owner_id=_option_user(database, owner, "--owner") if owner else None,
        product=product,
        region=region,
        language=language.strip().lower(),
        segments=segments,
        tags=tags,
        status=AssetStatus.DRAFT if draft else AssetStatus.PUBLISHED,
        audiences=audience_ids,
    )
    try:
        rows = bulk_import.parse_manifest(manifest.read_bytes()) if manifest else None
    except ValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--manifest") from None
    with _import_batch(path, manifest, publisher.max_upload_bytes) as batch:
        bar = click.progressbar(
            length=len(batch.items),
            label="checking" if dry_run else "importing",
            file=sys.stderr,
            item_show_func=lambda shown: shown,
        )
        with bar:
            try:
                report = bulk_import.run_import(
                    publisher,
                    actor_id,
                    batch,
                    defaults,
                    manifest=rows,
                    dry_run=dry_run,
                    progress=lambda _done, _total, shown: bar.update(1, shown),
                )
            except DomainError as exc:  # a default is wrong, or --as may not publish: nothing was read
                hint = {"owner_id": "--owner", "segments": "--segment", "tags": "--tag", "audiences": "--audience"}.get(
                    exc.field or ""
                )
                raise click.BadParameter(str(exc), param_hint=hint or f"--{exc.field or 'as'}") from None
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)


def _option_user(database: Database, email: str, option: str) -> int:
    from kb import accounts

    with database.session() as session:
        user = accounts.find_user(session, email)
    if user is None:
        raise click.BadParameter(f"no user with the e-mail {email!r}", param_hint=option)
    return user.id


def _import_batch(path: Path, manifest: Path | None, max_file_bytes: int | None) -> Any:
    """The files of a folder or a ZIP, as ``kb import`` reads them."""
    from kb import bulk_import

    if path.is_dir():
        return bulk_import.read_folder(path, exclude=[manifest] if manifest else [])
    with path.open("rb") as probe:
        is_zip = probe.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    if not is_zip:
        raise click.BadParameter("give a folder or a ZIP file", param_hint="PATH")
    stream = path.open("rb")
    batch = bulk_import.read_zip(stream, path.name, max_file_bytes=max_file_bytes)
    batch.resources.callback(stream.close)
    return batch


@main.group("report")
def report_group() -> None:
    """Reports."""


@report_group.command("staleness")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True)
@click.option("--owner", help="Only this owner's assets (e-mail).")
@with_db
def report_staleness(database: Database, fmt: str, owner: str | None) -> None:
    """How fresh the published library is: tiles, owners worst first, and every asset (for a weekly mail or cron)."""
    import json
    from datetime import date

    from kb import accounts, reports

    _require_schema(database)
    with database.session() as session:
        owner_id = None
        if owner:
            user = accounts.find_user(session, owner)
            if user is None:
                raise click.BadParameter(f"no user with the e-mail {owner!r}", param_hint="--owner")
            owner_id = user.id
        report = reports.staleness(session, date.today(), reports.ReportFilters(owner_id=owner_id))
        trend = reports.fresh_trend(session, date.today())
    if fmt == "csv":
        click.echo(reports.to_csv(report), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(reports.to_json(report, trend), ensure_ascii=False, indent=2))
    else:
        click.echo(reports.to_markdown(report), nl=False)


@main.group("notify")
def notify_group() -> None:
    """Notifications."""


@notify_group.command("digest")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), help="The day to run for (default: today).")
@with_db
def notify_digest(database: Database, on: Any) -> None:
    """Review-due notices and each owner's freshness queue; safe to run more than once a day."""
    from datetime import date

    from kb import digest

    _require_schema(database)
    report = digest.run(database, on.date() if on else date.today())
    click.echo(f"{report.review_notices} review-due notice(s), {report.digests} digest(s)")


@main.command("check")
@click.option(
    "--remove-orphans",
    is_flag=True,
    help="Delete stored files no version refers to (an hour old) and unfinished uploads that stopped.",
)
@with_db
def check(database: Database, remove_orphans: bool) -> None:
    """Verify every version's stored file exists and matches its SHA-256; report orphans and unfinished uploads."""
    from kb import integrity
    from kb.previews.store import PreviewStore

    context = _worker_context(database)
    previews = PreviewStore(context.settings.preview_dir)
    report = integrity.check_blobs(database, context.blobs, previews=previews)
    for line in report.lines():
        click.echo(line)
    if remove_orphans:
        removed = integrity.remove_orphans(database, context.blobs, report, previews=previews)
        click.echo(f"removed {removed} file(s)")
    if report.problems:
        raise SystemExit(1)


# --- synonyms ---------------------------------------------------------------------------------------------


@main.group("synonyms")
def synonyms_group() -> None:
    """Groups of equivalent words search applies (ТКП = коммерческое предложение); no re-index needed."""


def _actor_id(database: Database, email: str) -> int:
    from kb import accounts

    with database.session() as session:
        user = accounts.find_user(session, email)
    if user is None:
        raise click.ClickException(f"no user {email!r}")
    return user.id


@synonyms_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_db
def synonyms_export(database: Database, file: Path) -> None:
    """Write every group to FILE as CSV (a row per group, an entry per column); - writes to standard output."""
    from kb import synonyms

    _require_schema(database)
    with database.session() as session:
        text = synonyms.export_csv(session)
    if str(file) == "-":
        click.echo(text, nl=False)
    else:
        file.write_text(text, encoding="utf-8")
        click.echo(f"exported {text.count(chr(10))} group(s) to {file}")


@synonyms_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", required=True, help="E-mail of the marketing user making the change.")
@click.option("--replace", is_flag=True, help="Replace every group instead of adding to them.")
@with_db
def synonyms_import(database: Database, file: Path, actor: str, replace: bool) -> None:
    """Add the groups of a CSV FILE (UTF-8, comma or semicolon); nothing changes if any row is wrong."""
    from kb import synonyms

    _require_schema(database)
    rows = synonyms.parse_csv(file.read_bytes())
    added = synonyms.import_groups(database, _actor_id(database, actor), rows, replace=replace)
    click.echo(f"imported {added} new group(s) of {len(rows)}")


@synonyms_group.command("starter")
@click.option("--as", "actor", required=True, help="E-mail of the marketing user making the change.")
@with_db
def synonyms_starter(database: Database, actor: str) -> None:
    """Add kb's starter list for B2B/B2G sales (ТКП, ТЗ, НМЦК, 44-ФЗ, specs, ...); groups already there stay."""
    from kb import synonyms

    _require_schema(database)
    added = synonyms.load_starter(database, _actor_id(database, actor))
    click.echo(f"added {added} starter group(s)")


# --- vocabularies -----------------------------------------------------------------------------------------

VOCABULARY_CHOICE = click.Choice(["product", "region"])


@main.group("vocab")
def vocab_group() -> None:
    """The product and region lists publishing checks values against (segments are fixed: B2B, B2C, B2G)."""


def _vocab_term(database: Database, name: str, value: str) -> tuple[int, str]:
    """The id and spelling of the term ``value`` is a spelling of."""
    from kb import vocabularies

    with database.session() as session:
        term = vocabularies.find(session, name, value)
    if term is None:
        raise click.ClickException(f"no term “{value}” in {name}")
    return term.id, term.value


@vocab_group.command("list")
@click.argument("name", type=VOCABULARY_CHOICE, required=False)
@with_db
def vocab_list(database: Database, name: str | None) -> None:
    """Print each vocabulary (or NAME), open or closed, with its terms and how many assets carry each."""
    from kb import vocabularies

    _require_schema(database)
    with database.session() as session:
        for vocabulary in vocabularies.lists(session, with_counts=True).values():
            if name and vocabulary.name != name:
                continue
            click.echo(f"{vocabulary.name} ({'closed' if vocabulary.closed else 'open'})")
            for term in vocabulary.terms:
                click.echo(f"  {term.value}\t{term.assets}")


@vocab_group.command("add")
@click.argument("name", type=VOCABULARY_CHOICE)
@click.argument("value")
@with_db
def vocab_add(database: Database, name: str, value: str) -> None:
    """Add VALUE to the NAME list."""
    from kb import vocabularies

    _require_schema(database)
    term = vocabularies.add(database, name, value)
    click.echo(f"added “{term.value}” to {name}")


@vocab_group.command("rename")
@click.argument("name", type=VOCABULARY_CHOICE)
@click.argument("value")
@click.argument("new_value")
@with_db
def vocab_rename(database: Database, name: str, value: str, new_value: str) -> None:
    """Spell the term VALUE as NEW_VALUE; the assets that carry it change with it and are re-indexed."""
    from kb import vocabularies

    _require_schema(database)
    term_id, _spelt = _vocab_term(database, name, value)
    change = vocabularies.rename(database, name, term_id, new_value)
    click.echo(f"renamed to “{change.value}”: {change.assets} asset(s) changed")


@vocab_group.command("merge")
@click.argument("name", type=VOCABULARY_CHOICE)
@click.argument("source")
@click.argument("target")
@with_db
def vocab_merge(database: Database, name: str, source: str, target: str) -> None:
    """Move the assets of term SOURCE to term TARGET (re-indexed) and delete SOURCE."""
    from kb import vocabularies

    _require_schema(database)
    (source_id, spelt), (target_id, _target) = _vocab_term(database, name, source), _vocab_term(database, name, target)
    change = vocabularies.merge(database, name, source_id, target_id)
    click.echo(f"merged “{spelt}” into “{change.value}”: {change.assets} asset(s) moved")


@vocab_group.command("delete")
@click.argument("name", type=VOCABULARY_CHOICE)
@click.argument("value")
@with_db
def vocab_delete(database: Database, name: str, value: str) -> None:
    """Delete the term VALUE, which no asset may carry (merge a used one instead)."""
    from kb import vocabularies

    _require_schema(database)
    term_id, _spelt = _vocab_term(database, name, value)
    deleted = vocabularies.delete(database, name, term_id)
    click.echo(f"deleted “{deleted}” from {name}")


@vocab_group.command("close")
@click.argument("name", type=VOCABULARY_CHOICE)
@with_db
def vocab_close(database: Database, name: str) -> None:
    """Accept only the list's terms when publishing; other values are refused with the closest terms."""
    from kb import vocabularies

    _require_schema(database)
    vocabularies.set_closed(database, name, True)
    click.echo(f"{name}: only values from the list are accepted")


@vocab_group.command("open")
@click.argument("name", type=VOCABULARY_CHOICE)
@with_db
def vocab_open(database: Database, name: str) -> None:
    """Let a new value typed when publishing join the list (the default)."""
    from kb import vocabularies

    _require_schema(database)
    vocabularies.set_closed(database, name, False)
    click.echo(f"{name}: new values typed when publishing join the list")


# --- previews ---------------------------------------------------------------------------------------------


@main.group("previews")
def previews_group() -> None:
    """Page and slide images of the stored files, and the text of scans (derived: can always be made again)."""


@previews_group.command("rebuild")
@click.option("--asset", "asset_id", type=click.IntRange(1), help="Only the versions of this asset.")
@with_db
def previews_rebuild(database: Database, asset_id: int | None) -> None:
    """Delete the previews (of one asset's versions) and queue them again for the worker."""
    from kb.previews import build
    from kb.previews.store import PreviewStore

    _require_schema(database)
    queued = build.rebuild(database, PreviewStore(_settings().preview_dir), asset_id=asset_id)
    click.echo(f"queued previews of {queued} version(s); the worker makes them")


# --- search index -----------------------------------------------------------------------------------------


@main.group("index")
def index_group() -> None:
    """The search index (derived from the database; can always be rebuilt)."""


def _backend() -> SearchBackend:
    from kb.search import backend_of

    return backend_of(_settings())


@index_group.command("rebuild")
@with_db
def index_rebuild(database: Database) -> None:
    """Build a new index from the database; searches use the old one until it is complete."""
    import time

    from kb.search import indexing

    _require_schema(database)
    started = time.monotonic()
    written = indexing.rebuild(database, _backend())
    click.echo(f"indexed {written} page(s) in {time.monotonic() - started:.1f} s")


@index_group.command("check")
@with_db
def index_check(database: Database) -> None:
    """Compare the database with the index; exit 1 when assets are missing, extra or out of date."""
    from kb.search import indexing

    _require_schema(database)
    report = indexing.check(database, _backend())
    if report.outdated:
        click.echo("the index was written by an older kb (format)")
    for label, ids in (("missing", report.missing), ("extra", report.extra), ("out of date", report.stale)):
        if ids:
            click.echo(f"{label}: {len(ids)} asset(s): {', '.join(map(str, ids[:50]))}")
    click.echo("OK" if report.ok else "index differs from the database; run: kb index rebuild")
    if not report.ok:
        raise SystemExit(1)


@index_group.command("optimize")
@with_db
def index_optimize(database: Database) -> None:
    """Merge the index's segments into one (faster searches; takes a while on a large index)."""
    _backend().optimize()
    click.echo("index optimized")


# --- the audit log ---------------------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The audit log: who signed in, downloaded, published, changed roles, passwords and tokens."""


@audit_group.command("export")
@click.option("--since", metavar="YYYY-MM-DD", help="From this day on (in KB_TIMEZONE).")
@click.option("--until", metavar="YYYY-MM-DD", help="Up to and including this day.")
@click.option("--action", metavar="ACTION", help="Only this action (sign_in, download, role_changed, ...).")
@click.option("--user", "person", metavar="EMAIL", help="Only events by or about people whose e-mail contains this.")
@click.option("--asset", metavar="ID", help="Only events about this asset.")
@click.option("--ip", metavar="ADDRESS", help="Only events from this address (or network: 10.1.).")
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (default: stdout)."
)
@with_db
def audit_export(database: Database, output: Path | None, delimiter: str, **options: str | None) -> None:
    """Writes the audit log's events as CSV, newest first: codes, times in UTC (ISO 8601), UTF-8."""
    import sys

    from kb import audit
    from kb.errors import ValidationError

    _require_schema(database)
    try:
        filters = audit.parse_filters({k: v or "" for k, v in options.items()}, _settings().timezone)
    except ValidationError as exc:
        name = "user" if exc.field == "person" else exc.field
        raise click.BadParameter(str(exc), param_hint=f"--{name}") from None
    written = 0

    def counted(events: Iterator[Any]) -> Iterator[Any]:
        nonlocal written
        for event in events:
            written += 1
            yield event

    try:
        target = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    try:
        with database.session() as session:
            for piece in audit.csv_lines(counted(audit.events(session, filters)), delimiter=delimiter):
                target.write(piece)
    finally:
        if output:
            target.close()
    if output:
        click.echo(f"exported {written} event(s) to {output}", err=True)


@audit_group.command("prune")
@click.option("--days", type=click.IntRange(1, 36_500), help="Keep this many days (default: KB_AUDIT_DAYS).")
@with_db
def audit_prune(database: Database, days: int | None) -> None:
    """Deletes audit events older than KB_AUDIT_DAYS days (run it daily from cron)."""
    from kb import audit

    _require_schema(database)
    kept = days or _settings().audit_days
    removed = audit.prune(database, kept)
    click.echo(f"deleted {removed} audit event(s) older than {kept} days")


# --- backup, restore and moving the database ------------------------------------------------------------


@contextmanager
def _admin_errors() -> Iterator[None]:
    """A backup, restore or copy error, or a database that cannot be reached, as a one-line message."""
    from sqlalchemy.exc import SQLAlchemyError

    from kb.backup import BackupError
    from kb.dbcopy import CopyError, first_line

    try:
        yield
    except (BackupError, CopyError) as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"the database cannot be used: {first_line(exc)}") from None


@main.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@with_db
def backup_command(database: Database, dest: Path) -> None:
    """Back up the database and the stored files into DEST, a new or empty directory (not the search index)."""
    from kb import backup

    with _admin_errors():
        report = backup.backup(database, _worker_context(database).blobs, dest, progress=click.echo)
    click.echo(
        f"backup written to {report.dest}: {report.database_kind} database at revision {report.revision}, "
        f"{sum(report.counts.values())} row(s) in {len(report.counts)} table(s), "
        f"{report.files} file(s) ({report.bytes / 1024 / 1024:.1f} MB)"
    )


@main.command("restore")
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-index", is_flag=True, help="Leave the search index for `kb index rebuild` to build.")
@with_db
def restore_command(database: Database, src: Path, no_index: bool) -> None:
    """Restore the backup in SRC into this empty install, run kb check and rebuild the search index."""
    from kb import backup, integrity
    from kb.search import indexing

    blobs = _worker_context(database).blobs
    with _admin_errors():
        report = backup.restore(
            database,
            blobs,
            src,
            check=lambda: integrity.check_blobs(database, blobs),
            rebuild_index=None if no_index else lambda: indexing.rebuild(database, _backend()),
            progress=click.echo,
        )
    upgraded = f", upgraded to {report.upgraded_to}" if report.upgraded_to else ""
    click.echo(
        f"restored the {report.database_kind} database (revision {report.revision}{upgraded}): "
        f"{sum(report.counts.values())} row(s) in {len(report.counts)} table(s); "
        f"{report.files_copied} file(s) copied, {report.files_present} already in place"
    )
    for line in report.check_lines:
        click.echo(f"kb check: {line}")
    if report.indexed_pages is None:
        click.echo("search index not rebuilt: run kb index rebuild")
    else:
        click.echo(f"search index rebuilt: {report.indexed_pages} page(s)")
    if report.problems:
        raise SystemExit(1)


@main.command("migrate-db")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The empty PostgreSQL database, e.g. postgresql+psycopg://kb:secret@db.internal/kb",
)
@with_db
def migrate_db(database: Database, target: str) -> None:
    """Copy this SQLite install's database into an empty PostgreSQL database (ids kept) and verify the counts."""
    from kb import dbcopy

    click.echo("copying; stop kb serve and kb worker first, or what they write from now on stays behind in SQLite")
    with _admin_errors():
        report = dbcopy.copy_to_postgres(database, target)
    click.echo(f"copied into {report.target}:")
    for line in dbcopy.describe(report.counts):
        click.echo(line)
    click.echo(f"row counts verified in every table; {report.sequences} id sequence(s) continue after the largest id")
    click.echo("")
    click.echo("Next: set KB_DATABASE_URL to this URL (with its password) for kb serve, kb worker and the kb commands,")
    click.echo(f"  e.g. KB_DATABASE_URL={report.target}")
    click.echo("  and start them again. The SQLite file is left as it was (keep it until you are sure).")
    click.echo(f"Files stay where they are: KB_BLOB_DIR={_settings().blob_dir} (keep pointing kb at it).")
    click.echo("The search index stays valid (ids are kept): kb index check confirms it.")


# --- server ------------------------------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Server processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app and API with gunicorn."""
    from kb import create_app
    from kb.config import ConfigError

    try:
        app = create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    database: Database = app.extensions["kb_db"]
    _require_schema(database)
    database.dispose()  # each server process opens its own connections after the fork
    from kb.server import run

    click.echo(f"kb serving on http://{host}:{port}/ with {workers} worker process(es)")
    run(app, host=host, port=port, workers=workers)


# --- audiences --------------------------------------------------------------------------------------------


@main.group("audiences")
def audiences_group() -> None:
    """Audiences: named groups of people an asset may be restricted to."""


def _audience_id(database: Database, name_or_id: str) -> int:
    from kb import audiences
    from kb.models import Audience

    with database.session() as session:
        if name_or_id.strip().isdigit():
            found = session.get(Audience, int(name_or_id.strip()))
        else:
            found = audiences.find_by_name(session, name_or_id)
    if found is None:
        raise click.ClickException(f"no audience {name_or_id!r} (kb audiences list shows them)")
    return found.id


@audiences_group.command("list")
@with_db
def audiences_list(database: Database) -> None:
    """List audiences: number, name, members, restricted assets."""
    from kb import audiences

    _require_schema(database)
    with database.session() as session:
        for audience in audiences.summaries(session):
            click.echo(f"{audience.id}\t{audience.name}\t{audience.members} member(s)\t{audience.assets} asset(s)")


@audiences_group.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the audience is for.")
@with_db
def audiences_create(database: Database, name: str, description: str) -> None:
    """Create an audience."""
    from kb import audiences

    _require_schema(database)
    audience_id = audiences.create_audience(database, name, description)
    click.echo(f"created audience {audience_id}")


@audiences_group.command("add-member")
@click.argument("audience")
@click.argument("email")
@with_db
def audiences_add_member(database: Database, audience: str, email: str) -> None:
    """Add a person (by e-mail) to an audience (by number or name) as a local member."""
    from kb import audiences

    user = audiences.add_member(database, _audience_id(database, audience), email)
    click.echo(f"{user.email} is a member of audience {audience}")


@audiences_group.command("remove-member")
@click.argument("audience")
@click.argument("email")
@with_db
def audiences_remove_member(database: Database, audience: str, email: str) -> None:
    """Remove a person's local membership of an audience (a directory membership follows the directory)."""
    from kb import audiences

    removed = audiences.remove_member(database, _audience_id(database, audience), _user_id(database, email))
    click.echo(f"{email} removed" if removed else f"{email} was not a local member of audience {audience}")
