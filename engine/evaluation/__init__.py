"""Evidence about a candidate, computed on held-out rows only; one module per kind of evidence."""
