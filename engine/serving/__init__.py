"""Serving readiness: the packaged ONNX artifact of each candidate and what it does when served."""
