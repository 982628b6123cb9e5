"""mlgate's headless engine: data, candidates, evidence, policies, the audit trail and model cards.

Nothing here imports textual or the `tui` package; both front ends (`engine.cli` and `tui`) call
`engine.service`.
"""

__version__ = "0.1.0"
