"""The monitoring scenario on real data: a champion approved on the wage data's early years (2003-2005), monitored
on each later year (with the champion it replaced compared paired on the same labelled rows), then on a batch
built to break a critical condition (the `age` column missing); prints the figures, the champion card's
monitoring section, and checks that the trail still verifies.

    python -m bench.monitor_wage [--wage ../shared/datasets/wage/wage.csv] [--out bench-out/wage]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from engine.audit.trail import read_events
from engine.audit.verify import verify
from engine.champion import promote, registry
from engine.monitor.run import Options, monitor
from engine.service import run_audit
from engine.spec import build_spec

POLICY = {"name": "wage-gate", "version": "1.0.0", "rules": [
    {"id": "auc-floor", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.7,
     "severity": "block", "checklist": "optimizing_metric"}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wage", type=Path, default=Path("../shared/datasets/wage/wage.csv"))
    parser.add_argument("--out", type=Path, default=Path("bench-out/wage"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    wage = pd.read_csv(args.wage).drop(columns=["logwage", "region"])
    wage["high_wage"] = (wage.pop("wage") > 110).map({True: "yes", False: "no"})
    early = wage[wage["year"] <= 2005].drop(columns=["year"])
    early.to_csv(args.out / "early.csv", index=False)
    (args.out / "policy.json").write_text(json.dumps(POLICY), encoding="utf-8")
    db = args.out / "audit.duckdb"
    spec = build_spec({"name": "wage", "data": {"path": str(args.out / "early.csv"), "target": "high_wage",
                                                "positive": "yes", "sensitive": ["race"]},
                       "split": {"seed": 1}, "evaluation": {"bootstrap": 200, "reproducibility": False},
                       "serving": {"latency_calls": 10, "warmup_calls": 0, "throughput_repeats": 1},
                       "candidates": [{"name": "baseline", "family": "baseline"},
                                      {"name": "logistic", "family": "logistic"},
                                      {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 60}}],
                       "policies": [str(args.out / "policy.json")]}, source="bench.monitor_wage")
    run_id = run_audit(spec, audit_db=db, cards_dir=args.out / "cards", artifacts_dir=args.out / "art").run_id
    promote(db, run_id, "lightgbm", reviewer="bench", reason="first")
    promote(db, run_id, "logistic", reviewer="bench", reason="approved on 2003-2005")
    for year in range(2006, 2010):
        batch = args.out / f"year-{year}.csv"
        wage[wage["year"] == year].to_csv(batch, index=False)
        record = monitor(db, batch, Options(window_column="year", challenger="lightgbm")).record
        drift = record["evidence"]["drift"]
        auc = record["evidence"]["versus_approval"]["metrics"]["roc_auc"]
        paired = record["evidence"]["versus_challenger"]
        lift = paired["metrics"]["roc_auc"]
        print(f"{year}: {record['status']:8} worst PSI {drift['features'][0]['name']} "
              f"{drift['features'][0]['psi']:.3f}, scores PSI {drift['prediction']['psi']:.3f}; ROC AUC "
              f"{auc['batch']:.3f} {[round(x, 3) for x in auc['batch_interval']]} vs {auc['approved']:.3f} "
              f"approved, change interval {[round(x, 3) for x in auc['change_interval']]}; lightgbm on the same "
              f"rows {lift['lift']:+.3f} {[round(x, 3) for x in lift['interval']]} (DeLong p "
              f"{paired['delong_roc_auc']['p_value']:.3f}): {paired['verdict']['verdict']}")
    broken = args.out / "broken.csv"
    wage[wage["year"] == 2009].drop(columns=["age"]).to_csv(broken, index=False)
    result = monitor(db, broken, Options(window_column="year"))
    print(f"broken batch: {result.record['status']}; lapsed by {result.lapsed and result.lapsed['rule']}: "
          f"{result.lapsed and result.lapsed['message']}; rollback recommended to "
          f"{result.lapsed and (result.lapsed['rollback_recommended_to'] or {}).get('candidate')}")
    card = next(e for e in reversed(read_events(db, kinds=("card_written",))) if e.data["candidate"] == "logistic")
    text = Path(card.data["path"]).read_text(encoding="utf-8")
    print(f"the champion's card {card.data['path']}: monitoring section "
          f"{'present' if '## Monitoring after approval' in text else 'MISSING'}, lapse "
          f"{'shown' if '**Approval lapsed**' in text else 'NOT shown'}")
    current = registry(db, "wage").current
    print(f"champion {current and current['candidate']} lapsed: {bool(current and current.get('lapsed'))}; "
          f"verify intact: {verify(db).intact}")


if __name__ == "__main__":
    main()
