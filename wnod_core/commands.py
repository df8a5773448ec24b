"""Running one outside command for a plugin: an argument list (never a shell), a timeout, and
errors that name the command and quote what it said.

Every plugin that drives a batch system's or a hypervisor's tools runs them through ``run``, so
they all time out, stop a hung command and report a failure the same way::

    result = run(["/opt/pbs/bin/qstat", "-f", job_id], timeout=30)
    if result.returncode != 0:
        raise result.error("failed")   # BatchSystemError: "/opt/pbs/bin/qstat -f 12: failed (exit 153): ..."

A non-zero exit is returned, not raised: to a batch system it is often an answer ("no such
job"). Only a command that cannot be started or outlives its timeout raises, as ``error``.

An adapter keeps where its system's tools are, their timeout and what environment they see
in one ``Tools``::

    tools = Tools(bin_dir="/opt/pbs/bin", timeout=30, env={"LC_ALL": "C"})
    tools.check("qstat", "-f", job_id, what="reading the job")   # BatchSystemError unless exit 0
"""

import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence

import attrs

from wnod_core.errors import BatchSystemError

QUOTE_LIMIT = 600
"""Characters of a command's output quoted in an error: enough to see what went wrong."""


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` for an error message: stripped, verbatim, never empty.

    Longer than `limit`, its start and its end are kept (a tool often says what went wrong last).
    """
    text = text.strip()
    if not text:
        return "(nothing)"
    if len(text) > limit:
        head = limit // 2
        tail = limit - head
        text = f"{text[:head]} [... {len(text) - limit} characters ...] {text[-tail:]}"
    return text


@attrs.frozen
class Result:
    """How one command exited and what it printed, decoded (undecodable bytes replaced)."""

    argv: tuple[str, ...] = attrs.field(converter=tuple)
    returncode: int
    stdout: str
    stderr: str
    error_type: type[Exception] = attrs.field(default=BatchSystemError, kw_only=True, repr=False)
    """The exception ``error`` and ``check`` make: the calling plugin's (BatchSystemError, HypervisorError)."""

    @property
    def command(self) -> str:
        """The command line, as an admin could paste it into a shell."""
        return shlex.join(self.argv)

    @property
    def output(self) -> str:
        """Both streams, stderr first: tools say why they failed on either."""
        return _both(self.stdout, self.stderr)

    def message(self, what: str) -> str:
        """`what` happened with this command: named, with its exit code and what it printed."""
        return f"{self.command}: {what} (exit {self.returncode}): {quote(self.output)}"

    def error(self, what: str = "failed") -> Exception:
        """An ``error_type`` saying `what` went wrong with this command, quoting its output."""
        return self.error_type(self.message(what))

    def check(self, what: str = "failed") -> "Result":
        """This result, when the command exited 0; else its ``error(what)`` is raised."""
        if self.returncode != 0:
            raise self.error(what)
        return self


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    error: type[Exception] = BatchSystemError,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run `argv` (no shell) with `input` on stdin (else nothing) and `env` (else ours).

    Any exit is returned as a ``Result`` whose ``error`` is `error`. Raises `error` when the command
    cannot be run (missing, not executable) or has not finished after `timeout` seconds; then it
    and everything it started in its process group are killed.
    """
    argv = tuple(argv)
    command = shlex.join(argv)
    try:
        # A session of its own, so a timeout kills what it started too (a child holding the pipes
        # would otherwise keep us waiting). A daemon that starts a session of its own is kept.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        raise error(f"{command}: cannot run it: {_why_not(argv, exc, env)}") from exc
    try:
        out, err = proc.communicate(None if input is None else input.encode(), timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out, err = _stop(proc, exc.stdout, exc.stderr)
        said = _both(_text(out), _text(err))
        printed = f"; it had printed: {quote(said)}" if said else ""
        raise error(f"{command}: did not finish within {timeout:g}s; stopped it{printed}") from None
    except BaseException:  # interrupted: leave nothing running behind us
        _stop(proc, None, None)
        raise
    return Result(argv, proc.returncode, _text(out), _text(err), error_type=error)


@attrs.frozen
class Tools:
    """One batch system's (or hypervisor's) command-line tools: where they are, how long each may
    take and what environment they see. Every command runs through ``run``."""

    bin_dir: str = ""
    """Their directory; empty: each is found on the daemon's PATH."""
    timeout: float = 30.0
    """Seconds any one of them may take before it is stopped and reported as failed."""
    env: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    """Variables set for them over the environment they start from (``LSF_ENVDIR``, ``LC_ALL``)."""
    drop_env_prefixes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    """Variables left out of that environment: a user's ``SQUEUE_FORMAT`` must not change what
    the adapter reads."""
    paths: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    """A site's own path for single tools, over ``bin_dir`` (``{"qstat": "/usr/local/bin/qstat"}``)."""
    environ: Mapping[str, str] | None = None
    """The environment they start from; None: the daemon's own, as it is at each run."""
    error: type[Exception] = BatchSystemError
    """What a command that fails raises (``HypervisorError`` for a hypervisor's tools)."""

    def path(self, tool: str) -> str:
        """What is run for `tool`: its own path, else ``bin_dir/tool``, else `tool` as given."""
        if tool in self.paths:
            return self.paths[tool]
        return f"{self.bin_dir.rstrip('/')}/{tool}" if self.bin_dir else tool

    def environment(self) -> dict[str, str] | None:
        """What the tools see; None when that is the daemon's own environment, untouched."""
        if self.environ is None and not self.env and not self.drop_env_prefixes:
            return None
        base = os.environ if self.environ is None else self.environ
        env = {k: v for k, v in base.items() if not k.startswith(self.drop_env_prefixes)}
        env.update(self.env)
        return env

    def run(self, tool: str, *args: str, input: str | None = None) -> Result:
        """Run `tool` with `args`; how it exited, whatever its exit code (see ``run``)."""
        return run((self.path(tool), *args), timeout=self.timeout, error=self.error, input=input,
                   env=self.environment())

    def check(self, tool: str, *args: str, what: str = "", input: str | None = None) -> Result:
        """Like ``run``, but unless it exits 0 an ``error`` saying it failed `what` ("listing
        nodes"), naming the command and quoting what it said."""
        return self.run(tool, *args, input=input).check(f"failed {what}" if what else "failed")


def _why_not(argv: tuple[str, ...], exc: OSError, env: Mapping[str, str] | None) -> str:
    path = (os.environ if env is None else env).get("PATH", os.defpath)
    if isinstance(exc, FileNotFoundError) and shutil.which(argv[0], path=path) is None:
        return f"no command {argv[0]!r}"
    return exc.strerror or str(exc)  # e.g. not executable, or a script whose interpreter is missing


def _stop(proc: "subprocess.Popen[bytes]", out: bytes | None, err: bytes | None) -> tuple[bytes, bytes]:
    """Kill `proc`'s process group; what it printed until then (`out`, `err`: read so far)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired as exc:  # something outside the group still holds the pipes
        proc.kill()
        out, err = exc.stdout, exc.stderr
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
        proc.wait()
    return out or b"", err or b""


def _both(stdout: str, stderr: str) -> str:
    return "\n".join(s for s in (stderr.strip(), stdout.strip()) if s)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace")
