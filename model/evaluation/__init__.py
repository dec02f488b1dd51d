"""Evaluation: scores and labels -> metrics, review-band figures, reports and results files.

scikit-learn metrics and curves (`metrics`), the review band over many scores (`review`), downloadable reports
(`reports`), the results-file format (`results`) and the one evaluation chain (`chain`). No forward pass here. May
import the ground floor, `model.inputs`, `model.runtime` (types only) and `model.tasks`; never `jobs`.
"""
