#!/usr/bin/env python3
"""Checks the shipped EU VAT table (Sources/FinFlowTax/Resources/eu-vat.json) against the rates the PyPI package
eu-vat-rates-data publishes (European Commission TEDB): on the package's snapshot date, every member state's
standard rate must be the package's, and every other rate in force must be one the package lists for that state.

    python3 -m pip download --no-deps eu-vat-rates-data==2026.9.29 -d /tmp/euvat && \
      python3 tools/tax/check_eu_rates.py /tmp/euvat/eu_vat_rates_data-2026.9.29-py3-none-any.whl
"""
import json, sys, zipfile
from decimal import Decimal
from pathlib import Path

ours = json.loads((Path(__file__).resolve().parents[2] / "Sources/FinFlowTax/Resources/eu-vat.json").read_text())
with zipfile.ZipFile(sys.argv[1]) as wheel:
    theirs = json.loads(wheel.read("eu_vat_rates_data/eu_vat_rates_data.json"))
day = theirs["version"]
problems = []
checked = 0
for code, country in sorted(ours["countries"].items()):
    listed = theirs["rates"].get(code)
    if listed is None:
        problems.append(f"{code}: not in the package")
        continue
    published = {Decimal(str(x)) for x in [listed["standard"], *(listed["reduced"] or []), listed["super_reduced"], listed["parking"]] if x is not None}
    in_force = [r for r in country["rates"] if r["from"] <= day and ("to" not in r or day < r["to"])]
    for rule in in_force:
        checked += 1
        rate = Decimal(rule["rate"])
        if rule["category"] == "standard" and rate != Decimal(str(listed["standard"])):
            problems.append(f"{code}: standard {rate} here, {listed['standard']} in the package")
        elif rate not in published:
            problems.append(f"{code}: {rule['category']} {rate} is not among the package's rates {sorted(map(float, published))}")
print(f"{checked} rates in force on {day} checked across {len(ours['countries'])} jurisdictions; {len(problems)} problems")
for problem in problems:
    print("  " + problem)
sys.exit(1 if problems else 0)
