"""Jobs: `python -m model screen` and `evaluate` over large sets, locally or on a Ray cluster.

The commands (`commands`: sources -> results file, checkpointed and resumable; labelled results -> report) and the
Ray Data wiring (`ray_data`). The top floor of the package: may import every other layer; nothing in `model` imports
it except `model.__main__`.
"""
