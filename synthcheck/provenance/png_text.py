"""PNG text signals: generator settings and names in PNG text chunks (A1111 ``parameters``,
ComfyUI ``prompt``/``workflow``, InvokeAI, NovelAI, Midjourney, ...) and JPEG comments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from .known import EDIT_RE, GEN_RE, looks_like_a1111, match_tool
from .signal import MAX_TEXT, make_signal


def _comfy_summary(text: str) -> tuple[bool, str]:
    """(looks like a ComfyUI graph, short description with node count and checkpoint names)."""
    try:
        graph = json.loads(text[:MAX_TEXT])
    except (ValueError, RecursionError):
        return False, text
    nodes: list[Any] = []
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list):  # workflow
        nodes = graph["nodes"]
    elif isinstance(graph, dict):  # prompt (API format): {id: {class_type, inputs}}
        nodes = [v for v in graph.values() if isinstance(v, dict) and "class_type" in v]
    if not nodes:
        return False, text
    models = []
    for node in nodes[:2000]:
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if isinstance(inputs, dict):
            for key in ("ckpt_name", "unet_name", "model_name"):
                if isinstance(inputs.get(key), str):
                    models.append(inputs[key])
        widgets = node.get("widgets_values") if isinstance(node, dict) else None
        if isinstance(node, dict) and "Checkpoint" in str(node.get("type", "")) and \
                isinstance(widgets, list) and widgets and isinstance(widgets[0], str):
            models.append(widgets[0])
    desc = f"ComfyUI graph with {len(nodes)} nodes"
    if models:
        desc += f"; model: {', '.join(dict.fromkeys(models))}"
    return True, desc


def text_signals(texts: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Generator evidence from PNG text chunks and JPEG comments."""
    out: list[dict[str, Any]] = []
    src = "png_text"
    for key, raw_text in texts:
        k, text = key.strip(), raw_text.replace("\x00", "")
        low = k.lower()
        if not text.strip():
            continue
        if low == "parameters":
            strong = looks_like_a1111(text) or text.lstrip().startswith("{")
            out.append(make_signal(src, k, text, (
                "A 'parameters' text chunk holds the prompt and sampler settings, as written by "
                "Stable Diffusion front-ends (AUTOMATIC1111, Forge, Fooocus, SwarmUI); such "
                "metadata is easy to add or strip."), "moderate" if strong else "weak", "synthetic"))
        elif low in ("prompt", "workflow"):
            is_graph, desc = _comfy_summary(text)
            meaning = (f"A '{k}' text chunk holds a ComfyUI node graph, which ComfyUI writes into "
                       "every image it generates; such metadata is easy to add or strip."
                       if is_graph else
                       f"A '{k}' text chunk holds a generation prompt, as AI image tools write; "
                       "such metadata is easy to add or strip.")
            out.append(make_signal(src, k, desc, meaning, "moderate" if is_graph else "weak",
                               "synthetic"))
        elif low in ("dream", "sd-metadata", "invokeai_metadata", "invokeai_graph",
                     "generation_data", "sd_metadata", "fooocus_scheme", "sui_image_params"):
            out.append(make_signal(src, k, text, (
                f"A '{k}' text chunk holds generation settings written by a Stable Diffusion "
                "tool (InvokeAI, Fooocus or similar); such metadata is easy to add or strip."),
                "moderate", "synthetic"))
        elif low == "comment" and text.lstrip().startswith("{") and \
                re.search(r'"(steps|sampler|seed|uc|n_samples|cfg_scale|scale)"', text[:8192]):
            out.append(make_signal(src, k, text, (
                "A 'Comment' text chunk holds JSON generation settings (steps, sampler, seed), "
                "as NovelAI writes; such metadata is easy to add or strip."), "moderate",
                "synthetic"))
        elif low == "description" and re.search(r"\bJob ID:\s*[0-9a-f-]{8,}", text[:8192]):
            out.append(make_signal(src, k, text, (
                "A 'Description' text chunk holds a prompt with a 'Job ID', the way Midjourney "
                "labels its images; such metadata is easy to add or strip."), "moderate",
                "synthetic"))
        elif low in ("software", "source", "comment", "description", "author", "title",
                     "creation software", "generator", "model"):
            gen = match_tool(text, GEN_RE)
            editor = match_tool(text, EDIT_RE) if gen is None else None
            if gen is not None:
                out.append(make_signal(src, k, text, (
                    f"A '{k}' text chunk names {gen}, an AI image generator; such metadata is "
                    "easy to add or strip."), "moderate", "synthetic"))
            elif editor is not None:
                out.append(make_signal(src, k, text, (
                    f"A '{k}' text chunk names {editor}, an image editor: the file was saved by "
                    "it, which says nothing about how the image was first made."), "weak",
                    "edited"))
            elif low == "software":
                out.append(make_signal(src, k, text, "A 'Software' text chunk names a program that "
                                   "is not a known generator or editor.", "info", "neutral"))
    return out
