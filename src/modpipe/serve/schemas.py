"""Request and response bodies of the HTTP service (pydantic; FastAPI turns them into OpenAPI).

- `GateRequest`: modpipe's own gate call — a prompt, the requesting user, an audience and
  reference images as base64 (the response is the `Decision` record itself).
- `ModerationRequest` / `ModerationResponse`: exactly the OpenAI moderation API's shapes
  (`POST /v1/moderations`); the JSON Schema clients can rely on is kept in
  `modpipe/schemas/openai_moderation.schema.json` and the tests check responses against it.

Strings are checked here for what would otherwise fail deep inside a model: lone UTF-16
surrogates (valid in JSON escapes, invalid as UTF-8) are rejected with a 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_IMAGES = 4  # reference images per request
MAX_INPUTS = 64  # strings in one /v1/moderations call (OpenAI accepts arrays; keep batches sane)


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text is not valid Unicode (lone surrogate at position {exc.start})") from None
    return text


Text = Annotated[str, AfterValidator(_utf8)]
Id = Annotated[str, Field(max_length=256), AfterValidator(_utf8)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateRequest(_In):
    """One prompt for the pre-generation gate."""

    prompt: Text = Field(..., description="the generation prompt (never logged, never echoed)")
    user: Id | None = Field(None, description="requesting user id (for likeness consent)")
    audience: Id | None = Field(None, description="audience override declared by the policy, e.g. teen")
    images: list[str] = Field(
        default_factory=list, max_length=MAX_IMAGES,
        description=f"reference images, base64 (or data: URLs), at most {MAX_IMAGES}",
    )
    id: Id | None = Field(None, description="caller's request id, echoed in the decision")


# ----------------------------------------------------------------------------- OpenAI shapes


class TextPart(_In):
    type: Literal["text"]
    text: Text


class ImageURL(_In):
    url: str = Field(..., description="a data: URL (data:image/png;base64,...); remote URLs are refused")


class ImagePart(_In):
    type: Literal["image_url"]
    image_url: ImageURL


Part = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ModerationRequest(BaseModel):
    """OpenAI `POST /v1/moderations` body. Unknown top-level keys are ignored, as OpenAI does."""

    model_config = ConfigDict(extra="ignore")

    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)] | Annotated[
        list[Part], Field(min_length=1, max_length=MAX_INPUTS)
    ] = Field(..., description="a string, an array of strings (one result each), or an array of "
                               "text / image_url parts (one result for all of them)")
    model: str | None = Field(None, max_length=256, description="accepted and ignored; the policy decides")


class ModpipeExtension(BaseModel):
    """modpipe's own verdict next to the OpenAI fields (clients that do not know it ignore it)."""

    action: Literal["allow", "review", "block"]
    categories: dict[str, dict[str, Any]] = Field(..., description="modpipe category → {score, action}")
    reasons: list[str]
    error: dict[str, str] | None = None
    policy_hash: str


class ModerationResult(BaseModel):
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[Literal["text", "image"]]]
    modpipe: ModpipeExtension


class ModerationResponse(BaseModel):
    id: str
    model: str
    results: list[ModerationResult]
