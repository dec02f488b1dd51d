"""Inputs: bytes a user or a job hands us -> checked RGB images and the files to classify.

Safe decoding (`images`), hostile-archive reading (`archives`), what `screen` and `evaluate` read (`sources`) and the
one manifest reader (`manifest`), the one blur for previews (`previews`). Pure Python and Pillow: no model, no
torch. May import the ground floor (`model.config`, `model.errors`, `model.files`, `model.thresholds`) and nothing
else of `model`.
"""
