"""One exception tree for modpipe, translated to exit codes and HTTP statuses in one table.

    ModpipeError
    ├── PolicyError                 a policy file is unreadable, malformed or inconsistent
    ├── ConfigError                 settings / environment are wrong (bad path, bad value)
    ├── InputError                  the caller's input is bad (never retried)
    │   ├── MediaError              a media file cannot be opened or decoded
    │   │   ├── EmptyMediaError     zero bytes, or no decodable frame
    │   │   └── NotVideoError       readable, but holds no video stream
    │   ├── InputTooLargeError      over a configured size limit
    │   └── TextInputError          prompt text that cannot be used (empty, not a string)
    ├── ModelError                  a model cannot be loaded or run
    │   └── ModelUnavailableError   its weights are absent (e.g. CLIP with no weights given)
    ├── ScorerTimeout               a scorer ran past its deadline
    └── RegistryError               the likeness / consent registry refused an operation
        └── NotFoundError           an id that is not in the registry

Foreign exceptions (PyAV, OpenCV, onnxruntime, sqlite3, yaml) are mapped where they enter,
never left to escape a stage. Moderation code that catches one of these must fail closed:
the affected categories become `review` (or `block` where the policy says so), never `allow`.
"""

from __future__ import annotations


class ModpipeError(Exception):
    """Base of every error modpipe raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class PolicyError(ModpipeError):
    """A policy is malformed. `location` names the file and the line or field path."""

    def __init__(self, message: str, *, source: str | None = None, location: str | None = None):
        where = ":".join(p for p in (source, location) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.location = location


class ConfigError(ModpipeError):
    pass


class InputError(ModpipeError):
    pass


class MediaError(InputError):
    pass


class EmptyMediaError(MediaError):
    pass


class NotVideoError(MediaError):
    pass


class InputTooLargeError(InputError):
    pass


class TextInputError(InputError):
    pass


class ModelError(ModpipeError):
    pass


class ModelUnavailableError(ModelError):
    pass


class ScorerTimeout(ModpipeError):
    pass


class RegistryError(ModpipeError):
    pass


class NotFoundError(RegistryError):
    pass


# One table: exception type → (CLI exit code, HTTP status). First match in MRO order wins.
_BOUNDARY: dict[type[BaseException], tuple[int, int]] = {
    PolicyError: (3, 500),
    ConfigError: (3, 500),
    InputTooLargeError: (2, 413),
    NotFoundError: (2, 404),
    InputError: (2, 422),
    RegistryError: (2, 409),
    ModelUnavailableError: (4, 503),
    ModelError: (4, 500),
    ScorerTimeout: (4, 504),
    ModpipeError: (1, 500),
}


def exit_code(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in _BOUNDARY:
            return _BOUNDARY[cls][0]
    return 1


def http_status(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in _BOUNDARY:
            return _BOUNDARY[cls][1]
    return 500
