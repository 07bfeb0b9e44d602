"""A warm dbt process for the run's `dbt build` (docs/performance.md, "dbt start-up").

Before its first model, `dbt build` spends ~3.5 s on this machine: importing dbt (~1.5 s),
parsing the project from its partial-parse state (~0.9 s) and writing manifest.json (~0.7 s).
None of it depends on the batch, so the dbt resource starts this server when a run initializes
its resources (`WarmDbtServer.start_or_adopt`): the imports and the parse overlap the ingest
steps. The `pipeline` command starts it earlier still, before it imports Dagster and the
definitions (`start_early`; the resource adopts that server when it is for the same parse).

The dbt step's executable is the `dbt-warm` client (`client_main`, a console script of this
package). It hands its arguments, environment, working folder and standard streams (the file
descriptors themselves, over a Unix socket) to the server, which runs the command with the
parsed manifest (dbt's documented reuse, `dbtRunner(manifest=...)`) and returns dbt's exit
code. dagster-dbt sees the same process interface and the same JSON log lines as with `dbt`.

Everything unusual takes the plain path, so the server can only make a build start sooner:
- no server for the client's parent process (a `dbt` call outside a run, DBT_WARM=0, another
  process): the client execs the real `dbt`;
- a command other than those that take a manifest (`--version`, `parse`, `deps`, ...): ditto;
- the project's files, the parse-relevant options (`--vars`, `--target`, `--profile`, the
  project and profiles folders) or an environment variable the parse or the profile reads
  differ from the server's parse: the server runs the command without the manifest, i.e.
  dbt parses as usual (only the imports are saved).
A server serves one command, then exits; it also exits when the process that started it ends
(its stdin closes) or tears it down, in the middle of a build too: a run killed with `kill -9`
leaves no dbt writing its warehouse. A `dbt-warm` client dies with its parent as well (Linux
PR_SET_PDEATHSIG, kept across the exec of a cold `dbt`).
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

DISABLE_ENV = "DBT_WARM"  # "0" / "false": no server, `dbt` runs cold as dagster-dbt starts it
CLIENT_SCRIPT = "dbt-warm"  # [project.scripts] in pyproject.toml
# dbt commands that accept a parsed manifest (dbtRunner(manifest=...)).
MANIFEST_COMMANDS = frozenset(
    {"build", "run", "test", "seed", "snapshot", "compile", "show", "list", "ls"}
)
# Options that change what the parse produces.
PARSE_OPTIONS = ("--vars", "--target", "-t", "--profile", "--project-dir", "--profiles-dir")
PARSE_ENV = ("DBT_PROJECT_DIR", "DBT_PROFILES_DIR", "DBT_TARGET", "DBT_PROFILE")
SKIPPED_DIRS = frozenset({"target", "logs", "__pycache__"})
ACCEPT_TIMEOUT_S = 300.0  # longest the client waits for a server still parsing
_HEADER = struct.Struct("!I")


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in ("0", "false", "no")


def socket_path(parent_pid: int) -> Path:
    """Where the server started by process `parent_pid` listens (its `dbt` children find it)."""
    return Path(tempfile.gettempdir()) / f"dbt-warm-{os.getuid()}-{parent_pid}.sock"


def real_dbt() -> str:
    """The `dbt` console script of this interpreter's environment."""
    return str(Path(sys.executable).with_name("dbt"))


def executable() -> str:
    """The `dbt-warm` client next to this interpreter (it falls back to `dbt` itself), or `dbt`
    where the package's console scripts are not installed."""
    warm = Path(sys.executable).with_name(CLIENT_SCRIPT)
    return str(warm) if warm.is_file() else real_dbt()


@dataclass(frozen=True)
class ServerSpec:
    """What a server parses: the parse the run's build needs, and the environment it runs in."""

    parse_argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path


def server_spec(
    dbt_executable: str,
    project_dir: str | Path,
    profiles_dir: str | Path | None,
    target: str | None,
    profile: str | None,
    vars_args: Sequence[str],
) -> ServerSpec | None:
    """The server a run's dbt resource starts, None when its build runs cold (another
    executable than `dbt-warm`, DBT_WARM=0, the Spark target: one Spark session per SPARK_DIR).

    `vars_args` are the build's `--vars` (if any); the environment is the run's plus what the
    dbt step gives dbt (WAREHOUSE_PATH, the project and profiles folders) and the project's
    target folder, whose partial-parse state the server starts from.
    """
    from orchestration import settings  # not at module level: the client must start fast

    if (
        Path(dbt_executable).name != CLIENT_SCRIPT
        or not enabled()
        or (target or settings.dbt_target()) == "spark"
    ):
        return None
    parse_argv = ["parse", *vars_args]
    if profile:
        parse_argv += ["--profile", profile]
    if target:
        parse_argv += ["--target", target]
    env = {
        **os.environ,
        "WAREHOUSE_PATH": str(settings.warehouse_path()),  # as the dbt step sets it
        "DBT_PROJECT_DIR": str(project_dir),
        "DBT_PROFILES_DIR": str(profiles_dir or project_dir),
        "DBT_WARM_PROJECT_TARGET": str(settings.dbt_target_dir()),
    }
    return ServerSpec(tuple(parse_argv), env, Path(project_dir))


def publish_partial_parse(source_dir: Path, target_dir: Path) -> None:
    """Copy `source_dir/partial_parse.msgpack` over `target_dir`'s, atomically; best effort.

    dagster-dbt seeds each invocation's target folder with the project's partial-parse state;
    dbt discards it (and parses the whole project, seconds) when the rendered profile, target or
    --vars differ from the parse that wrote it. The newest state matches this deployment's
    settings, so making it the project's keeps later parses partial.
    """
    source = source_dir / "partial_parse.msgpack"
    if not source.is_file():
        return
    target = target_dir / "partial_parse.msgpack"
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".partial_parse.{os.getpid()}.tmp")
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # a concurrent reader sees the old or the new file
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# What a parse depends on
# --------------------------------------------------------------------------------------------


def command_of(argv: Sequence[str]) -> str | None:
    """The dbt sub-command of a CLI argument list (the first word not an option or its value)."""
    takes_value = False
    for arg in argv:
        if takes_value:
            takes_value = False
            continue
        if arg.startswith("-"):
            # global flags before the command are all boolean except these
            takes_value = "=" not in arg and arg in ("--log-format", "--log-level", "--log-path")
            continue
        return arg
    return None


def parse_options(argv: Sequence[str]) -> dict[str, str]:
    """The values of PARSE_OPTIONS in `argv` (`--opt value` or `--opt=value`)."""
    found: dict[str, str] = {}
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name not in PARSE_OPTIONS:
            continue
        if not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        found["--target" if name == "-t" else name] = value
    return found


def profile_env_names(profiles_dir: Path) -> set[str]:
    """Environment variables profiles.yml reads (`env_var('NAME'...)`)."""
    try:
        text = (profiles_dir / "profiles.yml").read_text()
    except OSError:
        return set()
    return set(re.findall(r"env_var\(\s*['\"](\w+)['\"]", text))


def project_files(project_dir: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file of the dbt project, artifacts and logs excluded."""
    files: dict[str, tuple[int, int]] = {}

    def walk(folder: Path) -> Iterator[os.DirEntry[str]]:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED_DIRS:
                        yield from walk(Path(entry.path))
                elif entry.is_file():
                    yield entry

    for entry in walk(project_dir):
        stat = entry.stat()
        files[entry.path] = (stat.st_size, stat.st_mtime_ns)
    return files


@dataclass(frozen=True)
class ParseInputs:
    """What a parse of the project was computed from; equal inputs give the same manifest."""

    options: dict[str, str]
    env: dict[str, str | None]
    files: dict[str, tuple[int, int]] = field(repr=False)

    @classmethod
    def of(
        cls, argv: Sequence[str], env: Mapping[str, str], cwd: Path, env_names: set[str]
    ) -> ParseInputs:
        project_dir = Path(
            parse_options(argv).get("--project-dir") or env.get("DBT_PROJECT_DIR") or cwd
        )
        names = env_names | set(PARSE_ENV)
        return cls(
            options=parse_options(argv),
            env={name: env.get(name) for name in sorted(names)},
            files=project_files(project_dir.resolve()),
        )

    def differences(self, other: ParseInputs) -> list[str]:
        """What differs, named (for the server log)."""
        out = [
            f"option {k}"
            for k in self.options.keys() | other.options.keys()
            if self.options.get(k) != other.options.get(k)
        ]
        out += [
            f"env {k}"
            for k in self.env.keys() | other.env.keys()
            if self.env.get(k) != other.env.get(k)
        ]
        if self.files != other.files:
            out.append("project files")
        return sorted(out)


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------


@dataclass
class _Warm:
    manifest: Any  # dbt's Manifest, None when the parse failed
    inputs: ParseInputs | None
    env_names: set[str]


_LOG_FD = 2  # the server's own log; serve() keeps a copy apart from the streams it lends


def _log(message: str) -> None:
    os.write(_LOG_FD, f"dbt-warm[{os.getpid()}]: {message}\n".encode())


def _warm_up(parse_argv: list[str], work_dir: Path) -> _Warm:
    """Import dbt and parse the project as the build will see it (partial parse from the
    project's state, like dagster-dbt's per-invocation copy)."""
    cwd = Path.cwd()
    profiles_dir = Path(os.environ.get("DBT_PROFILES_DIR") or cwd)
    env_names = profile_env_names(profiles_dir)
    # What the parse reads is fixed before it starts: a file edited meanwhile shows as changed.
    inputs = ParseInputs.of(parse_argv, os.environ, cwd, env_names)
    project_target = Path(os.environ.get("DBT_WARM_PROJECT_TARGET") or cwd / "target")
    parse_target = work_dir / "target"
    parse_target.mkdir(parents=True, exist_ok=True)
    seed = project_target / "partial_parse.msgpack"
    if seed.is_file():
        shutil.copyfile(seed, parse_target / "partial_parse.msgpack")
    os.environ["DBT_TARGET_PATH"] = str(parse_target)
    os.environ["DBT_LOG_PATH"] = str(parse_target)

    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([*parse_argv, "--quiet"])
    if not result.success or result.result is None:
        _log(f"parse failed ({result.exception}); commands will parse themselves")
        return _Warm(None, None, env_names)
    manifest = result.result
    publish_partial_parse(parse_target, project_target)
    # env_var() calls the parse made (models, dbt_project.yml) are part of what it depends on.
    env_names |= set(getattr(manifest, "env_vars", {}) or {})
    inputs = ParseInputs(
        options=inputs.options,
        env={name: os.environ.get(name) for name in sorted(env_names | set(PARSE_ENV))},
        files=inputs.files,
    )
    _log("parsed; waiting for the build")
    return _Warm(manifest, inputs, env_names)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 2)
    if len(header) < _HEADER.size:
        raise ConnectionError("client closed the connection")
    (size,) = _HEADER.unpack(header)
    payload = b""
    while len(payload) < size:
        chunk = conn.recv(size - len(payload))
        if not chunk:
            raise ConnectionError("client closed the connection")
        payload += chunk
    return json.loads(payload), list(fds)


def _exit_when_orphaned(serving: threading.Event, sock: Path) -> None:
    """Exit once the starting process is gone (our stdin, its pipe, closes), also during a
    build: its run is dead (killed, crashed), nobody reads the build's result, and a build left
    running would keep writing the warehouse under the next run."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    sock.unlink(missing_ok=True)
    if serving.is_set():
        _log("the process that started this server is gone: stopping the build")
        os._exit(3)
    os._exit(0)


def _run(request: dict[str, Any], fds: list[int], warm: _Warm) -> int:
    """Run the client's dbt command in this process, on the client's stdout and stderr (dbt
    reads no stdin; ours stays the pipe from the starting process); dbt's exit code."""
    argv: list[str] = request["argv"]
    cwd = Path(request["cwd"])
    reuse = warm.manifest is not None and warm.inputs is not None
    if reuse:
        inputs = ParseInputs.of(argv, request["env"], cwd, warm.env_names)
        changed = warm.inputs.differences(inputs)  # type: ignore[union-attr]
        if changed:
            reuse = False
            _log(f"not reusing the parse: {', '.join(changed)} differ")
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    for std_fd, fd in zip((1, 2), fds, strict=True):
        os.dup2(fd, std_fd)
        os.close(fd)

    from dbt.cli.main import dbtRunner

    result = dbtRunner(manifest=warm.manifest if reuse else None).invoke(argv)
    _close_duckdb()
    sys.stdout.flush()
    sys.stderr.flush()
    if result.success:
        return 0
    # as the `dbt` CLI: 1 = a node failed, 2 = dbt itself failed
    return 1 if result.exception is None else 2


def _close_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open, before the exit code is sent.

    A plain `dbt` process closes it when it exits, which checkpoints the write-ahead log into
    the database file. This server ends with os._exit, so without this the next process to open
    the warehouse (the dbt step's build-log write) would replay the whole WAL of the build and
    checkpoint it (SF0.1 one-day: 12.5 MB, 0.13 s + 0.12 s). Closing here checkpoints once,
    before the client gets the exit code, so the file is free and current when it does.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.env().close()
    except Exception as exc:  # another adapter, or nothing opened: nothing to close
        _log(f"no DuckDB database to close ({exc!r})")


def serve(listener: socket.socket, sock: Path, work_dir: Path, parse_argv: list[str]) -> NoReturn:
    """Parse, then run the first eligible command a client sends on `listener` (bound to
    `sock` by the starting process, so that no client can come before it exists)."""
    global _LOG_FD
    _LOG_FD = os.dup(2)
    serving = threading.Event()
    threading.Thread(target=_exit_when_orphaned, args=(serving, sock), daemon=True).start()
    # A client arriving during the parse waits in the backlog: still sooner than a cold dbt.
    # dbt's modules and the parsed manifest live as long as this process: frozen, the build's
    # full collections do not scan them again (0.78 -> 0.43 s of GIL time in an SF0.1 build).
    gc.disable()
    try:
        warm = _warm_up(parse_argv, work_dir)
    finally:
        gc.freeze()
        gc.enable()
    while True:
        conn, _ = listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError) as exc:
            _log(f"bad request: {exc}")
            conn.close()
            continue
        if command_of(request["argv"]) not in MANIFEST_COMMANDS:
            for fd in fds:
                os.close(fd)
            conn.sendall(b"N")  # the client runs the real dbt
            conn.close()
            continue
        serving.set()
        listener.close()
        sock.unlink(missing_ok=True)
        conn.sendall(b"A")
        _log(f"running dbt {' '.join(request['argv'])}")
        try:
            code = _run(request, fds, warm)
        except BaseException as exc:  # dbtRunner catches dbt's own; this is ours
            _log(f"failed: {exc!r}")
            code = 2
        try:
            conn.sendall(bytes([code]))
        finally:
            os._exit(0)


# --------------------------------------------------------------------------------------------
# Client: the `dbt-warm` console script
# --------------------------------------------------------------------------------------------


def _exec_real_dbt(argv: list[str]) -> NoReturn:
    dbt = real_dbt()
    os.execv(dbt, [dbt, *argv])


def _connect(path: Path) -> socket.socket | None:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(path))
    except OSError:
        client.close()
        return None
    return client


def _forward_signals(pid: int) -> None:
    def forward(signum: int, _frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)


def _recv_byte(client: socket.socket) -> bytes:
    while True:
        try:
            return client.recv(1)
        except InterruptedError:
            continue


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Have the kernel send `signum` to this process when its parent ends (Linux; elsewhere a
    no-op), and exit now if it already has. Kept across exec: a cold `dbt` inherits it.

    dagster-dbt starts this client from the run's process; when that one is killed (`kill -9`),
    the client, or the `dbt` it became, would otherwise build on, writing the warehouse."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(128 + int(signum))


def client_main() -> NoReturn:
    """`dbt-warm <dbt args>`: run the command in the parent's warm server, else `dbt`.

    Only the standard library is imported here: this runs in front of every dbt command."""
    argv = sys.argv[1:]
    die_with_parent()
    client = _connect(socket_path(os.getppid())) if enabled() else None
    if client is None:
        _exec_real_dbt(argv)
    request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    try:
        socket.send_fds(client, [_HEADER.pack(len(request))], [1, 2])
        client.sendall(request)
        client.settimeout(ACCEPT_TIMEOUT_S)
        answer = _recv_byte(client)
    except OSError:
        answer = b""
    if answer != b"A":  # declined, gone or stuck: nothing ran yet
        client.close()
        _exec_real_dbt(argv)
    creds = client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    server_pid = struct.unpack("3i", creds)[0]
    _forward_signals(server_pid)
    client.settimeout(None)
    code = _recv_byte(client)
    if not code:
        sys.stderr.write(f"dbt-warm: dbt server {server_pid} ended without an exit code\n")
        sys.exit(2)
    sys.exit(code[0])


# --------------------------------------------------------------------------------------------
# Starting and stopping a server (the dbt resource)
# --------------------------------------------------------------------------------------------


class WarmDbtServer:
    """A server process started by this process for its next `dbt-warm` child."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        work_dir: Path,
        log: IO[bytes],
        sock: Path,
        spec: ServerSpec,
    ) -> None:
        self.process = process
        self.work_dir = work_dir
        self.socket = sock
        self.spec = spec
        self._log = log

    @classmethod
    def start_or_adopt(cls, spec: ServerSpec) -> WarmDbtServer:
        """The server `start_early` started for `spec`'s parse if it is still waiting (the
        caller owns it from now on), else a new one."""
        global _early
        early, _early = _early, None
        if early is not None:
            if (
                early.spec.parse_argv == spec.parse_argv
                and early.spec.cwd == spec.cwd
                and early.process.poll() is None
            ):
                # An environment variable changed since then (one the parse or the profile
                # reads) is caught by the server: it then parses for the build as dbt would.
                return early
            early.stop()
        return cls.start(spec)

    @classmethod
    def start(cls, spec: ServerSpec) -> WarmDbtServer:
        work_dir = Path(tempfile.mkdtemp(prefix="dbt-warm-"))
        log = (work_dir / "server.log").open("wb")
        # Bound here, before the server starts: a `dbt-warm` spawned right after this returns
        # already finds it (and waits in the backlog until the server accepts).
        sock = socket_path(os.getpid())
        sock.unlink(missing_ok=True)  # a dead server's (pids are reused)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(sock))
            listener.listen(8)
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "orchestration.dbt_warm",
                    str(listener.fileno()),
                    str(sock),
                    str(work_dir),
                    *spec.parse_argv,
                ],
                stdin=subprocess.PIPE,  # closes when this process ends: the server then exits
                stdout=log,
                stderr=subprocess.STDOUT,
                env={
                    **spec.env,
                    "PYTHONUNBUFFERED": "1",
                    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                },
                cwd=spec.cwd,
                pass_fds=(listener.fileno(),),
            )
        return cls(process, work_dir, log, sock, spec)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.work_dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int | None:
        """End the server if it is still waiting; its exit code (None: had to be killed)."""
        code: int | None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.socket.unlink(missing_ok=True)  # the server removes it, unless it was killed
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._log.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)
        return code


_early: WarmDbtServer | None = None  # started by start_early, not yet adopted


def pipeline_spec() -> ServerSpec | None:
    """server_spec() of the pipeline's dbt resource (orchestration.assets.dbt.dbt_resource),
    without importing Dagster."""
    from orchestration import settings

    return server_spec(
        executable(),
        settings.DBT_PROJECT_DIR,
        settings.DBT_PROJECT_DIR,
        settings.dbt_target(),
        None,
        settings.dbt_vars_args(),
    )


def start_early(spec: ServerSpec | None) -> None:
    """Start the server for `spec` now, before this process imports Dagster and the project's
    definitions (~2.5 s of one core, with the other idle): the dbt resource adopts it when the
    run initializes its resources (`WarmDbtServer.start_or_adopt`). Without it, the server's
    imports and parse ran during the ingest steps and slowed them."""
    global _early
    if spec is not None and _early is None:
        _early = WarmDbtServer.start(spec)


def stop_early() -> None:
    """Stop a server `start_early` started that no run adopted (a run that failed before its
    resources, or without a dbt step)."""
    global _early
    early, _early = _early, None
    if early is not None:
        early.stop()


def main(argv: list[str]) -> NoReturn:
    """`python -m orchestration.dbt_warm <listening fd> <its path> <work dir> <parse args...>`."""
    fd, sock, work_dir, *parse_argv = argv
    listener = socket.socket(fileno=int(fd))
    serve(listener, Path(sock), Path(work_dir), parse_argv)


if __name__ == "__main__":
    main(sys.argv[1:])
