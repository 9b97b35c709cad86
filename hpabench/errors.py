"""The one small exception hierarchy of hpabench, with the CLI exit code each maps to.

Exit codes (DESIGN.md, convention 5): 0 pass, 1 tool error, 2 invalid input, 3 thresholds failed,
4 load invalid (`run`: the load that ran was not the load planned — flag `load_invalid`).
A threshold breach is a result, not an exception; it never passes through here.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_TOOL_ERROR = 1
EXIT_INVALID_INPUT = 2
EXIT_THRESHOLDS_FAILED = 3
EXIT_LOAD_INVALID = 4
FLAG_LOAD_INVALID = "load_invalid"


class HpabenchError(Exception):
    """Base of every error hpabench raises on purpose. `exit_code` is what the CLI returns."""

    exit_code = EXIT_TOOL_ERROR


@dataclass(frozen=True)
class SpecIssue:
    """One problem in one input file: `path` is the dotted field path ("stages.2.duration_s")."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class SpecError(HpabenchError):
    """Invalid user input (scenario, variant, manifest, profile, thresholds...). Lists every issue."""

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, issues: list[SpecIssue] | SpecIssue, headline: str | None = None) -> None:
        self.issues = [issues] if isinstance(issues, SpecIssue) else list(issues)
        self.headline = headline
        lines = [headline] if headline else []
        lines += [str(issue) for issue in self.issues]
        super().__init__("\n".join(lines))


class MissingDependencyError(HpabenchError):
    """A binary or service hpabench needs is absent; names the Debian package that provides it."""

    def __init__(self, what: str, package: str, hint: str = "") -> None:
        self.what = what
        self.package = package
        message = f"{what} was not found; install it with: sudo apt-get install -y {package}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class TargetError(HpabenchError):
    """Deploying, running or tearing down the system under test failed."""


class LoadDriverError(HpabenchError):
    """The load generator could not be started or died."""


class SafetyError(HpabenchError):
    """A request that would send load somewhere hpabench did not deploy, without explicit consent."""

    exit_code = EXIT_INVALID_INPUT


class RunInterrupted(HpabenchError):
    """The user interrupted a run (Ctrl-C / SIGTERM); the run is kept and marked `interrupted`."""

    exit_code = 130
