#!/usr/bin/env python3
"""Python's xgboost on the credit model's fixture rows: batch predictions per second and the latency of a single-row
`Booster.predict` (a one-row DMatrix each time, as a service scoring one application would), next to FinFlow's
`credit-bench`. Usage: xgb_predict.py MODEL_DIR [singles]"""
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb


def encode(spec, applicant):
    row = []
    for column in spec["columns"]:
        if "=" in column:
            name, code = column.split("=", 1)
            row.append(np.nan if name not in applicant else float(applicant[name] == code))
        else:
            row.append(float(applicant[column]) if column in applicant else np.nan)
    return row


def main():
    directory = sys.argv[1]
    singles = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    booster = xgb.Booster()
    booster.load_model(os.path.join(directory, "model.json"))
    booster.set_param({"nthread": 1})
    spec = json.load(open(os.path.join(directory, "features.json")))
    cases = json.load(open(os.path.join(directory, "fixture.json")))["cases"]
    matrix = np.array([encode(spec, c["applicant"]) for c in cases], dtype=np.float32)
    batch = xgb.DMatrix(matrix, feature_names=spec["columns"])
    scored, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2:
        booster.predict(batch)
        scored += len(cases)
    print(f"batch: {scored / (time.perf_counter() - start):.0f} predictions/s (one DMatrix of {len(cases)} rows, 1 thread)")
    for label, contribs in (("probability", False), ("with TreeSHAP", True)):
        latencies = []
        for i in range(singles):
            start = time.perf_counter()
            # Encoding the application is part of the work, as it is in FinFlow's figure.
            row = xgb.DMatrix(np.array([encode(spec, cases[i % len(cases)]["applicant"])], dtype=np.float32), feature_names=spec["columns"])
            booster.predict(row, pred_contribs=contribs)
            latencies.append((time.perf_counter() - start) * 1e6)
        latencies.sort()
        print(f"single {label}: p50 {latencies[len(latencies) // 2]:.1f} µs, p99 {latencies[int(len(latencies) * 0.99)]:.1f} µs, "
              f"mean {sum(latencies) / len(latencies):.1f} µs")


if __name__ == "__main__":
    main()
