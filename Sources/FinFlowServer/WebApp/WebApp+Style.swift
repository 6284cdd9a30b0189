extension WebApp {
    static let style = #"""
:root { --ink: #1d2733; --muted: #5b6b7d; --line: #d9e0e8; --accent: #2f6fdd; --warn: #c2410c; --good: #15803d; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--ink); background: #f6f8fb; }
header { display: flex; align-items: center; gap: 2rem; padding: .75rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.2rem; margin: 0; }
nav { display: flex; gap: 1rem; align-items: center; }
nav a { color: var(--accent); text-decoration: none; }
main { padding: 1.5rem; max-width: 1200px; margin: auto; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.5rem; margin-bottom: 1.5rem; }
form { display: grid; gap: .75rem; max-width: 360px; }
label { display: grid; gap: .25rem; color: var(--muted); }
input { font: inherit; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: 6px; }
button { font: inherit; padding: .45rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
nav button { background: #fff; color: var(--accent); }
.error { color: var(--warn); min-height: 1.2em; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .75rem; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; }
.tile .label { color: var(--muted); font-size: .85rem; }
.tile .value { font-size: 1.3rem; font-weight: 600; }
.tile .change { font-size: .8rem; color: var(--muted); }
.chart svg { width: 100%; height: 220px; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1.5rem; }
table { border-collapse: collapse; width: 100%; }
td { padding: .25rem .4rem; border-bottom: 1px solid var(--line); }
td.amount { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; }
.feed { list-style: none; padding: 0; }
.feed li { border-left: 4px solid var(--warn); padding: .5rem .8rem; margin-bottom: .5rem; background: #fff7ed; }
.feed li .score { font-weight: 600; }
small { color: var(--muted); font-weight: normal; font-size: .8rem; }
"""#
}
