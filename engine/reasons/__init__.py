"""Reason codes and recourse for individual decisions, computed on the served ONNX artifact (issue 20)."""
