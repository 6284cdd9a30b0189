"""The web app in a real browser (Playwright driving Debian's Chromium): sign in as the demo owner, see the demo tenant's
KPIs as the API states them, see the statements, then post transactions through the API, the last far above the rest,
and watch the anomaly appear in the live feed without a reload. Usage: browser_test.py BASE_URL EMAIL PASSWORD."""
import json
import os
import sys
import urllib.request
from datetime import date

from playwright.sync_api import expect, sync_playwright

base, email, password = sys.argv[1], sys.argv[2], sys.argv[3]


def call(method, path, token=None, body=None):
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def number(text):
    kept = "".join(c for c in text if c.isdigit() or c in ".-")
    return float(kept)


token = call("POST", "/v1/auth/login", body={"email": email, "password": password})["tokens"]["accessToken"]
expected = call("GET", "/v1/analytics/dashboard", token)
currency = expected["currency"]

with sync_playwright() as playwright:
    arguments = ["--no-sandbox"] if os.geteuid() == 0 else []
    browser = playwright.chromium.launch(executable_path=os.environ.get("FINFLOW_CHROMIUM", "/usr/bin/chromium"), args=arguments)
    page = browser.new_page()
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(base + "/app")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")

    revenue = page.locator("[data-testid=kpi-revenueMinor] .value")
    expect(revenue).not_to_have_text("–", timeout=15_000)
    shown = number(revenue.inner_text())
    assert abs(shown - expected["kpis"]["revenueMinor"] / 100) < 0.01, f"revenue tile {shown} against {expected['kpis']['revenueMinor']}"
    cash = number(page.locator("[data-testid=kpi-cashMinor] .value").inner_text())
    assert abs(cash - expected["kpis"]["cashMinor"] / 100) < 0.01, f"cash tile {cash} against {expected['kpis']['cashMinor']}"
    assert page.locator("#flow-chart rect").count() >= 2 * len(expected["series"]), "a bar per period for revenue and for expenses"
    expect(page.locator("[data-testid=total-revenue]")).to_be_visible(timeout=15_000)
    expect(page.locator("[data-testid=total-assets]")).to_be_visible()
    print(f"browser: signed in; revenue {shown:,.2f} {currency} and cash {cash:,.2f} as the API states them; statements shown")

    expect(page.locator("[data-testid=feed-status]")).to_have_text("live", timeout=15_000)
    assert any(url.split("?")[0].endswith("/v1/realtime/anomalies/ws") for url in sockets), f"the feed is a WebSocket: {sockets}"
    page.evaluate("window.__notReloaded = true")
    before = page.locator("[data-testid=anomaly]").count()
    accounts = {a["code"]: a["id"] for a in call("GET", "/v1/transactions/accounts", token)["items"]}
    # Twenty-five ordinary payments give the bank account a usual amount (a new account's pace is still being learnt,
    # so they are no burst), then one a thousand times larger.
    for i in range(26):
        call("POST", "/v1/transactions", token, {
            "kind": "expense", "amount": 4_000 + (i * 37) % 900 if i < 25 else 4_500_000, "currency": currency,
            "valueDate": date.today().isoformat(), "sourceAccountId": accounts["1020"], "destinationAccountId": accounts["6200"],
            "counterparty": {"name": "City Power"}, "allowDuplicate": True})
    anomalies = page.locator("[data-testid=anomaly]")
    expect(anomalies.nth(before)).to_be_visible(timeout=30_000)
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    listed = call("GET", "/v1/realtime/anomalies", token)["items"]
    assert listed, "the API lists the anomaly the page shows"
    text = anomalies.first.inner_text()
    assert "robust deviations from this account's usual" in text, text
    assert not failures, f"errors in the page: {failures}"
    print(f"browser: {anomalies.count()} anomalies appeared in the live feed (a WebSocket) without a reload; the newest: {text.splitlines()[-1]}")
    if os.environ.get("FINFLOW_SCREENSHOT"):
        page.screenshot(path=os.environ["FINFLOW_SCREENSHOT"], full_page=True)
    browser.close()
