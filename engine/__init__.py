"""mlgate's headless engine: data, candidates, evidence, policies, the audit trail and model cards.

Nothing here imports click, rich, textual or either front end; both front ends (`cli` and `tui`) call
`engine.service` (the import-linter contracts in pyproject.toml hold this).
"""

__version__ = "0.1.0"
