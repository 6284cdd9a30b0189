"""Writes an hledger journal of two-line entries over the default chart, in files of at most 100,000 entries,
and the same rows as SQL for the raw-insert baseline. Deterministic (seed 42)."""
import random, sys, os

lines_total = int(sys.argv[1])
out = sys.argv[2]
random.seed(42)
pairs = [("assets:1020", "revenues:4000"), ("expenses:6100", "assets:1020"), ("expenses:6200", "assets:1020"),
         ("assets:1100", "revenues:4100"), ("assets:1020", "assets:1100"), ("expenses:5000", "assets:1200"),
         ("assets:1200", "liabilities:2010"), ("liabilities:2010", "assets:1020")]
entries = lines_total // 2
per_file = 100_000
os.makedirs(out, exist_ok=True)
written = 0
part = 0
while written < entries:
    count = min(per_file, entries - written)
    with open(os.path.join(out, f"part-{part:03d}.journal"), "w") as f:
        for i in range(count):
            day = 1 + (written + i) * 300 // entries
            month, dom = 1 + min(day // 31, 9), 1 + day % 28
            debit, credit = random.choice(pairs)
            cents = random.randint(100, 99_999)
            f.write(f"2026-{month:02d}-{dom:02d} * Generated {written + i}\n    {debit}  {cents // 100}.{cents % 100:02d} USD\n    {credit}\n\n")
    written += count
    part += 1
print(entries)
