"""Which Runway API model takes what, as data: endpoints, ratios per endpoint, durations, options.

Every rule the request models check about a model comes from :data:`RUNWAY_API_MODELS`; adding a model (or
following a change at Runway) is an entry here, nothing else.

Sources, read 2026 (models change: check again before relying on an entry):

* the runwayml SDK's request types, generated from Runway's OpenAPI spec: api.md and
  ``src/runwayml/types/<endpoint>_create_params.py`` (image_to_video, text_to_video, video_to_video,
  video_upscale, character_performance) at https://github.com/runwayml/sdk-python (5.13.0 of 2026-07-27 on
  GitHub; 5.24.0 as installed from PyPI);
* Runway's guide (https://docs.dev.runwayml.com/guides/using-the-api/, the "Model outputs" ratios of Gen-4
  Turbo) and Runway's own API reference skill
  (https://github.com/runwayml/skills/blob/main/skills/rw-api-reference/SKILL.md: endpoints per model, "Video
  duration: 2-10 seconds").

Where they differ, the SDK types (closest to Runway's schema) win, and the entry says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ENDPOINTS",
    "RUNWAY_API_MODELS",
    "Endpoint",
    "RunwayApiModel",
    "models_for",
]

Endpoint = Literal[
    "image_to_video", "text_to_video", "video_to_video", "video_upscale", "character_performance"
]

#: Every generation endpoint this client speaks, as ``POST /v1/<endpoint>``.
ENDPOINTS: tuple[Endpoint, ...] = (
    "image_to_video",
    "text_to_video",
    "video_to_video",
    "video_upscale",
    "character_performance",
)

#: Gen-4 family output sizes (the guide's "Gen-4 Turbo outputs", the SDK's gen4_turbo/gen4.5/act_two ratios).
GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
#: Veo sizes on Runway (SDK: veo3.1, veo3.1_fast, veo3 ``ratio``).
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
#: Gen-4.5 text-to-video takes only the two 720p sizes (SDK text_to_video_create_params, Gen4_5.ratio).
GEN45_TEXT_RATIOS = ("1280:720", "720:1280")
TWO_TO_TEN = tuple(range(2, 11))


@dataclass(frozen=True)
class RunwayApiModel:
    """One Runway API model and the parameters it takes.

    :param name: the ``model`` value Runway expects.
    :param ratios: allowed ``ratio`` values per endpoint the model serves; an endpoint missing here is one the
        model does not serve. An empty tuple means the endpoint takes no ``ratio`` from this client.
    :param ratio_required: whether ``ratio`` must be given (on every endpoint that takes one).
    :param durations: allowed ``duration`` seconds; empty when the model takes no ``duration``.
    :param duration_required: whether ``duration`` must be given.
    :param prompt_required: endpoints on which ``prompt_text`` is required.
    :param max_prompt: longest ``promptText`` in UTF-16 code units (Runway counts those).
    :param audio: takes ``audio`` (generate sound; priced higher).
    :param last_frame: image-to-video takes a last frame as well as the first.
    :param negative_prompt: takes ``negativePrompt``.
    :param seed: takes ``seed``.
    :param moderation: takes ``contentModeration.publicFigureThreshold``.
    :param retired: why the model may no longer be served, when a source says so (requests still go out,
        with a warning: Runway's answer is the authority).
    :param sources: where the entry comes from.
    """

    name: str
    ratios: Mapping[Endpoint, tuple[str, ...]]
    ratio_required: bool = True
    durations: tuple[int, ...] = ()
    duration_required: bool = False
    prompt_required: frozenset[Endpoint] = frozenset()
    max_prompt: int = 1000
    audio: bool = False
    last_frame: bool = False
    negative_prompt: bool = False
    seed: bool = True
    moderation: bool = False
    retired: str | None = None
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The endpoints the model serves, in :data:`ENDPOINTS` order."""
        return tuple(endpoint for endpoint in ENDPOINTS if endpoint in self.ratios)

    def serves(self, endpoint: Endpoint) -> bool:
        return endpoint in self.ratios


_SDK = "runwayml SDK api.md / types/*_create_params.py"

RUNWAY_API_MODELS: Mapping[str, RunwayApiModel] = {
    model.name: model
    for model in (
        RunwayApiModel(
            "gen4.5",
            ratios={"image_to_video": GEN4_RATIOS, "text_to_video": GEN45_TEXT_RATIOS},
            durations=TWO_TO_TEN,
            duration_required=True,
            prompt_required=frozenset({"image_to_video", "text_to_video"}),
            moderation=True,
            sources=(_SDK + ": Gen4_5 (duration 'an integer from 2 to 10', promptText required)",),
        ),
        RunwayApiModel(
            # Image only: the SDK has no gen4_turbo text_to_video variant, and Runway's reference says
            # "Image required".
            "gen4_turbo",
            ratios={"image_to_video": GEN4_RATIOS},
            durations=TWO_TO_TEN,
            moderation=True,
            sources=(
                _SDK + ": Gen4Turbo (duration optional, no range given)",
                "runwayml/skills rw-api-reference: 'Video duration: 2-10 seconds' (2024 guide: 5 or 10)",
            ),
        ),
        RunwayApiModel(
            "veo3.1",
            ratios={"image_to_video": VEO_RATIOS, "text_to_video": VEO_RATIOS},
            durations=(4, 6, 8),
            prompt_required=frozenset({"text_to_video"}),
            audio=True,
            last_frame=True,
            negative_prompt=True,
            sources=(_SDK + ": Veo3_1 (duration Literal[4, 6, 8], first/last frame, audio)",),
        ),
        RunwayApiModel(
            "veo3.1_fast",
            ratios={"image_to_video": VEO_RATIOS, "text_to_video": VEO_RATIOS},
            durations=(4, 6, 8),
            prompt_required=frozenset({"text_to_video"}),
            audio=True,
            last_frame=True,
            negative_prompt=True,
            sources=(_SDK + ": Veo3_1Fast",),
        ),
        RunwayApiModel(
            "veo3",
            ratios={"image_to_video": VEO_RATIOS, "text_to_video": VEO_RATIOS},
            durations=(8,),
            duration_required=True,
            prompt_required=frozenset({"text_to_video"}),
            negative_prompt=True,
            seed=False,
            retired="absent from the runwayml SDK 5.24.0 request types (present in 5.13.0, 2026-07)",
            sources=(_SDK + " 5.13.0: Veo3 (duration Literal[8])",),
        ),
        RunwayApiModel(
            # Aleph 2 (gen4_aleph was removed 2026-06). Its output follows the input video; the SDK keeps a
            # free-form, deprecated ``ratio`` ("Deprecate v2v ratio" in its changelog), so none is taken here.
            "aleph2",
            ratios={"video_to_video": ()},
            ratio_required=False,
            moderation=True,
            sources=(
                _SDK + ": video_to_video Variant0 (model aleph2, videoUri required, promptText optional)",
            ),
        ),
        RunwayApiModel(
            "magnific_video_upscaler_creative",
            ratios={"video_upscale": ()},
            ratio_required=False,
            seed=False,
            sources=(_SDK + ": VideoUpscaleCreateParams (upscale_v1 sunset 2026-01)",),
        ),
        RunwayApiModel(
            "act_two",
            ratios={"character_performance": GEN4_RATIOS},
            ratio_required=False,
            moderation=True,
            sources=(_SDK + ": CharacterPerformanceCreateParams (character image|video, reference video)",),
        ),
    )
}


def models_for(endpoint: Endpoint) -> tuple[str, ...]:
    """The model names that serve ``endpoint``, in table order (for error messages)."""
    return tuple(name for name, model in RUNWAY_API_MODELS.items() if model.serves(endpoint))
