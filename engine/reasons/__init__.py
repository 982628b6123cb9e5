"""Reason codes and recourse for individual decisions, computed on the served ONNX artifact (issue 20)."""

REASONS_EXPLAINED = "reasons_explained"  # the event `mlgate reasons` records (here: `mlgate show` reads it lightly)
