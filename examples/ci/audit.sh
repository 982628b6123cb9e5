#!/usr/bin/env bash
# Gate a model in CI: audit, keep every report even when the gate fails, verify the trail, publish its head,
# and exit with the audit's code (0 ready, 1 a blocking rule failed, 2 unusable input).
#
#   MLGATE_SPEC  the audit spec (required)         MLGATE_OUT   where reports go (default mlgate-out)
#   MLGATE_ARGS  extra `mlgate audit` flags        MLGATE       the command (default mlgate)
set -uo pipefail
spec=${MLGATE_SPEC:?set MLGATE_SPEC to the audit spec (TOML or JSON)}
out=${MLGATE_OUT:-mlgate-out}
read -r -a mlgate <<< "${MLGATE:-mlgate}"
read -r -a extra <<< "${MLGATE_ARGS:-}"
mkdir -p "$out"

"${mlgate[@]}" audit --spec "$spec" --audit-db "$out/audit.duckdb" --cards-dir "$out/cards" \
  --junit "$out/junit.xml" --summary "$out/summary.md" --format json "${extra[@]}" > "$out/audit.json"
status=$?
echo "mlgate audit exited $status (0 ready, 1 a blocking rule failed, 2 unusable input)" >&2

if [ -f "$out/audit.duckdb" ]; then
  if ! "${mlgate[@]}" verify --audit-db "$out/audit.duckdb"; then
    echo "the audit trail does not verify" >&2
    [ "$status" -eq 0 ] && status=1
  fi
  "${mlgate[@]}" head --audit-db "$out/audit.duckdb" --out "$out/head.json" --force
fi
exit "$status"
