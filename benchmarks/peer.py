"""The peer a user would pick instead: the model card's snippet served in a plain `gr.Interface`, one image per
call; `python -m benchmarks.peer FOLDER` serves it, `compare_with_peer` runs it against the app, interleaved."""

from __future__ import annotations

import logging
import statistics
import sys
from pathlib import Path
from typing import Any

from testbed.server import AppServer

from .api import HttpCaller, throughput

__all__ = ["build_peer", "compare_with_peer"]

logger = logging.getLogger(__name__)


def build_peer(checkpoint: Path) -> Any:
    """The model card's code behind a `gr.Interface` with Gradio's defaults (one call at a time, no batching)."""
    import gradio as gr
    import timm
    import torch
    from PIL import Image

    model = timm.create_model(f"local-dir:{checkpoint}", pretrained=True).eval()
    data_config = timm.data.resolve_model_data_config(model)
    transforms = timm.data.create_transform(**data_config, is_training=False)
    labels = model.pretrained_cfg["label_names"]

    def classify(path: str, threshold: float) -> dict[str, Any]:
        with Image.open(path) as image:
            tensor = transforms(image.convert("RGB")).unsqueeze(0)
        with torch.no_grad():
            output = model(tensor).softmax(dim=-1).cpu()[0].tolist()
        score = output[labels.index("NSFW")]
        return {"label": "NSFW" if score >= threshold else "SFW", "nsfw_score": score}

    demo = gr.Interface(
        classify,
        [gr.Image(type="filepath"), gr.Slider(0, 1, 0.5)],
        gr.JSON(),
        api_name="classify",
        flagging_mode="never",
    )

    def model_info() -> dict[str, str]:
        return {"status": "ready"}

    with demo:
        # benchmarks.server waits for /model_info to say "ready", as it does for the app.
        gr.api(model_info, api_name="model_info")
    return demo


def compare_with_peer(
    standin: Path, work: Path, clients: int, rounds: list[list[Path]], level_seconds: float
) -> dict[str, Any]:
    """The app and the peer side by side: in each round, `clients` plain-HTTP clients send one round's distinct
    images to one and then other (fresh images each round, never the same file twice, so no cache answers)."""
    app = AppServer({"NSFW_MODEL": str(standin), "HF_HUB_OFFLINE": "1"}, work / "app-vs-peer.log", work / "tmp-app")
    peer = AppServer(
        {}, work / "peer.log", work / "tmp-peer", command=[sys.executable, "-m", "benchmarks.peer", str(standin)]
    )
    rates: dict[str, list[float]] = {"app": [], "peer": []}
    errors = {"app": 0, "peer": 0}
    with app, peer:
        app.wait_until_ready()
        peer.wait_until_ready()
        for index, images in enumerate(rounds):
            # Alternate who goes first, so a trend in the machine's load falls on both alike.
            order = [("app", app), ("peer", peer)] if index % 2 == 0 else [("peer", peer), ("app", app)]
            for name, server in order:
                share = images[::2] if name == "app" else images[1::2]
                level = throughput(server, clients, share, level_seconds, caller=HttpCaller)
                rates[name].append(level["images_per_s"])
                errors[name] += level["errors"]
    result: dict[str, Any] = {"clients": clients, "rounds": len(rounds), "errors": errors}
    for name, values in rates.items():
        result[name] = {
            "images_per_s": values,
            "median_images_per_s": round(statistics.median(values), 2),
        }
    result["app_vs_peer"] = round(result["app"]["median_images_per_s"] / result["peer"]["median_images_per_s"], 3)
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build_peer(Path(sys.argv[1])).launch()
