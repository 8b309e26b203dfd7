"""`modpipe likeness …`: the public-figure gallery and cameo consent registry.

    enroll --id ID --name NAME [--alias A]... [--kind public_figure|cameo_owner] [--keep-photo] IMAGE...
    grant --person ID (--user USER | --everyone)
    revoke --person ID (--user USER | --everyone)
    list | audit [--person ID] | import-names FILE.jsonl

Every command works on the registry under MODPIPE_HOME (likeness.sqlite3); each write is one
transaction and leaves an audit row. The same operations are methods of
`modpipe.likeness.Registry`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from modpipe.errors import InputError, ModpipeError, exit_code

app = typer.Typer(no_args_is_help=True, help="Public-figure gallery and cameo consent registry.")

PersonOpt = Annotated[str, typer.Option("--person", help="person id")]
UserOpt = Annotated[Optional[str], typer.Option("--user", help="user id the consent is for")]
EveryoneOpt = Annotated[bool, typer.Option("--everyone", help="consent for every user")]


def _fail(exc: BaseException) -> None:
    typer.echo(f"modpipe: error: {exc}", err=True)
    raise typer.Exit(exit_code(exc))


def _registry():  # noqa: ANN202
    from modpipe.likeness import Registry

    return Registry.open()


@app.command()
def enroll(
    images: Annotated[list[Path], typer.Argument(help="photos, each showing exactly one face")],
    id: Annotated[str, typer.Option("--id", help="person id")],
    name: Annotated[str, typer.Option("--name", help="display name")],
    alias: Annotated[list[str], typer.Option("--alias", help="another spelling (repeatable)")] = [],  # noqa: B006
    kind: Annotated[str, typer.Option("--kind", help="public_figure or cameo_owner")] = "public_figure",
    keep_photo: Annotated[bool, typer.Option("--keep-photo", help="keep a copy of each photo")] = False,
) -> None:
    """Enroll a person's face(s): all photos are checked before anything is stored."""
    from modpipe.likeness.faces import FaceEngine, load_photo, one_face
    from modpipe.settings import get_settings

    try:
        engine = FaceEngine()
        embs, photos = [], []
        for img in images:
            emb = one_face(engine, load_photo(img), img.name).embedding
            sha = hashlib.sha256(img.read_bytes()).hexdigest()
            kept = None
            if keep_photo:
                d = get_settings().state_dir() / "likeness-photos" / id
                d.mkdir(parents=True, exist_ok=True)
                kept = str(shutil.copyfile(img, d / f"{sha[:16]}{img.suffix.lower()}"))
            embs.append(emb)
            photos.append((sha, kept))
        p = _registry().enroll(id, name, embs, kind=kind, aliases=alias, photos=photos)
    except ModpipeError as exc:
        _fail(exc)
    typer.echo(f"enrolled {p.id} ({p.name}, {p.kind}): {p.faces} face(s), aliases: {', '.join(p.aliases) or '-'}")


@app.command()
def grant(person: PersonOpt, user: UserOpt = None, everyone: EveryoneOpt = False) -> None:
    """Record consent: PERSON lets USER (or everyone) use their likeness."""
    try:
        g = _registry().grant(person, user, everyone=everyone)
    except ModpipeError as exc:
        _fail(exc)
    typer.echo(f"granted: {g.person_id} → {'everyone' if g.grantee == '*' else g.grantee} "
               f"(grant {g.id}, {g.granted_at})")


@app.command()
def revoke(person: PersonOpt, user: UserOpt = None, everyone: EveryoneOpt = False) -> None:
    """Withdraw consent (takes effect on the next gate or scan, in every process)."""
    try:
        n = _registry().revoke(person, user, everyone=everyone)
    except ModpipeError as exc:
        _fail(exc)
    typer.echo(f"revoked {n} grant(s): {person} → {'everyone' if everyone else user}")


@app.command("list")
def list_people() -> None:
    """One JSON line per person: id, name, kind, aliases, faces, active grants."""
    try:
        reg = _registry()
        active: dict[str, list[str]] = {}
        for g in reg.grants(active_only=True):
            active.setdefault(g.person_id, []).append(g.grantee)
        for p in reg.people():
            typer.echo(json.dumps({"id": p.id, "name": p.name, "kind": p.kind, "aliases": list(p.aliases),
                                   "faces": p.faces, "grants": active.get(p.id, [])}))
    except ModpipeError as exc:
        _fail(exc)


@app.command()
def audit(person: Annotated[Optional[str], typer.Option("--person", help="only this person")] = None) -> None:
    """The append-only audit trail, one JSON line per event."""
    try:
        for e in _registry().audit(person):
            typer.echo(json.dumps({"id": e.id, "at": e.at, "action": e.action, "person": e.person_id,
                                   "grantee": e.grantee, **e.detail}))
    except ModpipeError as exc:
        _fail(exc)


@app.command("import-names")
def import_names(file: Annotated[Path, typer.Argument(help="JSONL: {id, name, aliases?}")]) -> None:
    """Bulk-add public figures by name and aliases (no faces), all or nothing."""
    try:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
        records = []
        for i, line in enumerate(lines, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{file}:{i}: not JSON ({exc.msg})") from None
        n = _registry().import_names(records)
    except ModpipeError as exc:
        _fail(exc)
    typer.echo(f"imported {n} people from {file.name}")
