"""Where a sweep's study lives: the storage URL, its database driver, the connection, Optuna's RDBStorage.

By default an SQLite file in the runs root; any SQLAlchemy URL otherwise,
e.g. a PostgreSQL server shared by several machines. A bare
``postgresql://`` URL takes whichever PostgreSQL driver is installed
(psycopg 3 or psycopg2). Every problem is reported before any trial runs,
with the URL's password masked: a missing driver (with the pip command), a
server that cannot be reached or refuses the user, password or database.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import time
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # Windows: no file locks; the retries still cover a creation race
    fcntl = None  # type: ignore[assignment]

from zoo_core.errors import ConfigError
from zoo_core.sweeps.study import GRACE_SECONDS, HEARTBEAT_SECONDS, require_optuna

#: How many times opening the storage is tried (processes starting together race to create its tables).
STORAGE_ATTEMPTS = 4
#: The database errors that two processes creating the tables at once get (SQLAlchemy's class names).
RACE_ERRORS = ("IntegrityError", "OperationalError")
#: The PostgreSQL drivers a bare ``postgresql://`` URL may use, in order of preference: (SQLAlchemy name, module).
POSTGRESQL_DRIVERS = (("psycopg", "psycopg"), ("psycopg2", "psycopg2"))
POSTGRESQL_HINT = ("pip install 'zoo[sweeps-postgres]'  (installs psycopg, the PostgreSQL driver; "
                   "psycopg2-binary works too)")
#: How long connecting to a database server may take before zoo reports it unreachable.
CONNECT_TIMEOUT_SECONDS = 10
CONNECTION_HINT = ("check the host, port, user, password and database name in --storage: the database must exist "
                   "(createdb NAME on its host) and the server accept connections from this machine")


def default_storage(root: Path) -> str:
    """``sqlite:///<runs root>/sweeps/sweeps.db``: embedded, nothing to start."""
    folder = root / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'sweeps.db').resolve()}"


def open_storage(url: str) -> Any:
    """An RDBStorage with heartbeats; a stale trial (dead process) is failed and its parameters queued once.

    The URL's driver must be installed and its server must answer (else a
    ConfigError naming the URL, password masked). Processes that open a new
    database at the same moment race to create its tables: an SQLite file is
    opened under a lock beside it, and any URL is tried again a few times
    before its error is reported.
    """
    require_optuna()
    given, url = url, with_driver(url)
    if not url.startswith("sqlite"):
        _check_connection(url, given)
    error: Exception | None = None
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with _file_lock(url):
                return _rdb_storage(url)
        except Exception as failure:  # noqa: BLE001 - a bad URL, a server gone since the check, a creation race
            error = failure
            if type(failure).__name__ not in RACE_ERRORS:
                break
            time.sleep(0.5 * (attempt + 1))
    raise ConfigError(f"cannot open the sweep storage '{masked(given)}': {_reason(error, url)}",
                      hint="give --storage a URL Optuna supports, e.g. sqlite:///sweeps.db or "
                           "postgresql://user:password@host/db (docs/sweeps.md)")


def with_driver(url: str) -> str:
    """The URL with the database driver to use: ``postgresql://`` names the installed one; others as given.

    An unknown database or a driver that is not installed is a ConfigError
    with the pip command.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"--storage '{masked(url)}' is not a database URL",
                          hint="e.g. sqlite:///sweeps.db or postgresql://user:password@host:5432/db") from None
    if parsed.drivername == "postgresql":
        for driver, module in POSTGRESQL_DRIVERS:
            if _installed(module):
                return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)
        raise ConfigError(f"the sweep storage '{masked(url)}' needs a PostgreSQL driver; neither psycopg nor "
                          "psycopg2 is installed", hint=POSTGRESQL_HINT)
    try:
        parsed.get_dialect()
    except ImportError as missing:  # the dialect's own module, or a driver a dialect imports at once
        raise ConfigError(f"the sweep storage '{masked(url)}' needs a database driver that is not installed "
                          f"({missing})", hint=_driver_hint(parsed.drivername)) from None
    except Exception as unknown:  # noqa: BLE001 - sqlalchemy's NoSuchModuleError: no such database or driver
        raise ConfigError(f"the sweep storage '{masked(url)}' names a database SQLAlchemy does not know "
                          f"({_reason(unknown, url)})", hint="e.g. sqlite:///sweeps.db or "
                          "postgresql://user:password@host:5432/db") from None
    return url


def masked(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages and logs."""
    scheme, separator, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")  # the last '@': a password may hold one
    if not separator or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"


def _installed(module: str) -> bool:
    """Whether the driver imports: psycopg installed without libpq (or its binary wheel) does not."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _driver_hint(drivername: str) -> str:
    if drivername.startswith("postgresql"):
        return POSTGRESQL_HINT + "; or write postgresql://... to use whichever of them is installed"
    return (f"install the Python driver SQLAlchemy uses for '{drivername}' (its dialect pages: "
            "https://docs.sqlalchemy.org/en/20/dialects/)")


def _check_connection(url: str, given: str) -> None:
    """Connect once: a server down, or refusing the user, password or database, is a ConfigError now.

    ``url`` is ``given`` (the URL as written, named in the message) with its driver.
    """
    import sqlalchemy
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connect_args = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    try:
        engine = sqlalchemy.create_engine(parsed, connect_args=connect_args, poolclass=sqlalchemy.pool.NullPool)
        with engine.connect():
            pass
    except ImportError as missing:
        raise ConfigError(f"the sweep storage '{masked(given)}' needs a database driver that is not installed "
                          f"({missing})", hint=_driver_hint(parsed.drivername)) from None
    except Exception as failure:  # noqa: BLE001 - every DBAPI's own error classes
        raise ConfigError(f"cannot connect to the sweep storage '{masked(given)}': {_reason(failure, url)}",
                          hint=CONNECTION_HINT) from None
    engine.dispose()


def _reason(error: BaseException | None, url: str) -> str:
    """The database's own message on one line (without SQLAlchemy's wrapping), never holding the password."""
    if error is None:
        return "unknown error"
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split()) or type(original).__name__
    text = re.sub(r"\(Background on this error at: \S+\)", "", text).strip()
    from sqlalchemy.engine import make_url

    secrets = [url.partition("://")[2].rpartition("@")[0].partition(":")[2]]  # as written in the URL
    with contextlib.suppress(Exception):
        secrets.append(str(make_url(url).password or ""))  # decoded
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text


def _rdb_storage(url: str) -> Any:
    optuna = require_optuna()
    engine: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine = {"connect_args": {"timeout": 60}}  # several processes share the file: wait for its lock
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
        optuna.storages.RetryFailedTrialCallback  # renamed in Optuna 4.9
    return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS,
                                      grace_period=GRACE_SECONDS, heartbeat_stale_trial_callback=retry(max_retry=1))


@contextlib.contextmanager
def _file_lock(url: str) -> Iterator[None]:
    """For ``sqlite:///PATH``: an exclusive lock on ``PATH.lock`` while the storage opens; else nothing."""
    path = url.partition(":///")[2] if url.startswith("sqlite:///") else ""
    if not path or fcntl is None:
        yield
        return
    with open(f"{path}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
