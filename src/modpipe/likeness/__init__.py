"""Likeness and consent: the public-figure gallery and cameo consent registry.

    registry.py   SQLite registry (people, aliases, face embeddings, grants, append-only audit)
    faces.py      dlib face detection + 128-d embeddings (enrolment and the face_likeness scorer)
    names.py      public-figure name matcher for prompts, transcripts and OCR text
    consent.py    apply_consent(scores, user, registry): consented matches stop counting

Nothing heavy is imported here; dlib loads only when a FaceEngine is built.
"""

from modpipe.likeness.registry import EVERYONE, KINDS, AuditEntry, Gallery, Grant, Person, Registry

__all__ = ["EVERYONE", "KINDS", "AuditEntry", "Gallery", "Grant", "Person", "Registry", "get_registry"]


def get_registry(resources) -> Registry:  # noqa: ANN001
    """The process's one registry connection, shared through `Resources`."""
    return resources.get("likeness.registry", lambda: Registry(resources.settings.registry_path))
