"""Load a policy once, loudly: YAML → `Policy`, with every error naming file, line and field.

Checks, in order (the first failure raises `PolicyError`):
1. YAML syntax (line and column from the parser);
2. the schema (unknown keys, types, ranges, review_at ≤ block_at) — field path + line;
3. each scorer's `params` against its registered `Params` model — `scorers.NAME.params.X`;
4. cross-references: every signal names a declared scorer and one of its outputs; audience
   overrides name declared audiences.
The content hash is sha256 over the canonical JSON of the validated policy, so reformatting
or reordering keys does not change it, and any semantic change does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from modpipe.assets import default_policy_path
from modpipe.errors import PolicyError
from modpipe.policy.schema import Policy
from modpipe.scorers import get_scorer_class


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy, its scorers' validated params, its source and its content hash."""

    policy: Policy
    params: dict[str, BaseModel]
    source: str
    hash: str

    @property
    def name(self) -> str:
        return self.policy.name


def _line_of(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node along `path` in a composed YAML tree."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(key)), None)
            if nxt is None:
                key_node = next((k for k, _ in node.value if k.value == str(key)), None)
                return key_node.start_mark.line + 1 if key_node is not None else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _where(path: tuple[Any, ...], root: yaml.Node | None) -> str:
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
    line = _line_of(root, path)
    return f"line {line}: {dotted}" if line else dotted


def _canonical_hash(policy: Policy) -> str:
    blob = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def parse_policy(text: str, source: str = "<string>") -> LoadedPolicy:
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"invalid YAML: {problem}", source=source, location=loc) from None
    if not isinstance(data, dict):
        raise PolicyError("a policy must be a YAML mapping", source=source, location="line 1")

    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise PolicyError(msg + more, source=source, location=_where(loc, root)) from None

    params: dict[str, BaseModel] = {}
    outputs: dict[str, frozenset[str]] = {}
    for name, spec in policy.scorers.items():
        try:
            cls = get_scorer_class(spec.type)
        except PolicyError as exc:
            raise PolicyError(
                exc.message, source=source, location=_where(("scorers", name, "type"), root)
            ) from None
        try:
            params[name] = cls.Params.model_validate(spec.params)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ("scorers", name, "params", *err["loc"])
            msg = f"unknown key {err['loc'][-1]!r}" if err["type"] == "extra_forbidden" else err["msg"]
            raise PolicyError(msg, source=source, location=_where(loc, root)) from None
        outputs[name] = cls.outputs(params[name])

    for cname, cat in policy.categories.items():
        for i, sig in enumerate(cat.signals):
            loc = ("categories", cname, "signals", i)
            if sig.scorer not in policy.scorers:
                declared = ", ".join(policy.scorers) or "none"
                raise PolicyError(
                    f"signal uses undeclared scorer {sig.scorer!r} (declared: {declared})",
                    source=source, location=_where((*loc, "scorer"), root),
                )
            if outputs[sig.scorer] and sig.label not in outputs[sig.scorer]:
                raise PolicyError(
                    f"scorer {sig.scorer!r} has no output {sig.label!r} "
                    f"(it emits: {', '.join(sorted(outputs[sig.scorer]))})",
                    source=source, location=_where((*loc, "label"), root),
                )
        for aud in cat.audiences:
            if aud not in policy.audiences:
                raise PolicyError(
                    f"audience {aud!r} is not declared in the policy's audiences "
                    f"({', '.join(policy.audiences) or 'none'})",
                    source=source, location=_where(("categories", cname, "audiences", aud), root),
                )
    return LoadedPolicy(policy=policy, params=params, source=source, hash=_canonical_hash(policy))


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Load and validate a policy file (default: the shipped `policies/default.yaml`)."""
    p = Path(path) if path is not None else default_policy_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError("policy file not found", source=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy: {exc}", source=str(p)) from None
    return parse_policy(text, source=str(p))
