"""Tasks: what is done with a loaded `Classifier`, one file or many.

The per-file pipeline used by the CLI, the tabs and Ray (`pipeline`), allow / review / block (`moderation`), the
high-resolution tile scan (`scan`), animation frames (`frames`) and explanation heatmaps (`explain`). May import the
ground floor, `model.inputs` and `model.runtime`; never `evaluation` or `jobs`.
"""
