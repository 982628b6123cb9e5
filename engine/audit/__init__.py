"""The audit trail: one DuckDB file of hash-chained, append-only events (append, read, verify)."""
