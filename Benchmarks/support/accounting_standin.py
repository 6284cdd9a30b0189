"""A QuickBooks Online or Xero stand-in for the sync benchmark: the OAuth token endpoint, Xero's /connections, and the
read side of the accounting API (QuickBooks query and change data capture, Xero's paged collections), over a generated
company of N documents, and the write side FinFlow pushes to (QuickBooks POST journalentry with requestid, Xero PUT
ManualJournals with Idempotency-Key; lines must balance and name an account of the chart; and the documents: QuickBooks
customers, vendors, items, invoices, bills, payments and bill payments, with `where` look-ups by name and voids; Xero
contacts, invoices and payments, each made once per idempotency key). POST /chart adds accounts
numbered as FinFlow's (QuickBooks AcctNum, Xero Code), so pushed lines find them. It enforces the provider's published limits per company (QuickBooks 500 calls a minute and 10
at once; Xero 60 a minute and 5 at once), answering 429 with Retry-After past them, and takes LATENCY_MS per call, as a
provider across the internet does. GET /stats answers what it saw: calls, 429s, the most calls at once, the busiest
minute.

Usage: accounting_standin.py quickbooks|xero PORT DOCUMENTS LATENCY_MS
"""
import json
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

KIND, PORT, DOCUMENTS, LATENCY_MS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
PER_MINUTE, AT_ONCE = (500, 10) if KIND == "quickbooks" else (60, 5)
REALM, ORGANISATION = "9130357992181146", "6f3b1e0e-0c8f-4b8e-9a55-2d8a1c9e0001"
QBO_ENTITIES = ["Account", "Customer", "Vendor", "Invoice", "Bill", "Payment", "BillPayment", "JournalEntry"]
XERO_COLLECTIONS = ["Accounts", "Contacts", "Invoices", "Payments", "ManualJournals"]
START = time.time() - 86_400

lock = threading.Lock()
stats = {"calls": 0, "throttled": 0, "peak_at_once": 0, "busiest_minute": 0, "journals_made": 0, "documents_made": 0,
         "writes_refused": 0}
answered = {}
# The documents pushed, by kind then id (kept apart from the generated company the sync reads).
written = {}
in_flight = 0
starts = []


def company():
    """DOCUMENTS documents spread over the kinds, each changed once a day ago, written as the providers' APIs write them:
    accounts with their class (the first income, the second expense, the rest assets), every invoice one line of 100.00
    to the income account, every bill one to the expense account, payments into (and bill payments out of) the third,
    journals moving 100.00 from the third to the expense account. So the ledger's income account ends with 100.00 of
    credit per invoice (the benchmark waits for that)."""
    names = QBO_ENTITIES if KIND == "quickbooks" else XERO_COLLECTIONS
    books = {name: [] for name in names}
    step = len(names)
    day = datetime.fromtimestamp(START, timezone.utc).date().isoformat()
    for number in range(DOCUMENTS):
        name = names[number % step]
        if KIND == "quickbooks":
            # Accounts are documents 0, 8, 16…: ids "1" (income), "9" (expense), "17" (bank) and so on.
            income, expense, bank = "1", str(step + 1), str(2 * step + 1)
            item = {"Id": str(number + 1), "SyncToken": "0", "domain": "QBO", "Name": f"{name} {number}",
                    "DisplayName": f"{name} {number}", "DocNumber": str(number), "TxnDate": day, "TotalAmt": 100.0,
                    "MetaData": {"LastUpdatedTime": datetime.fromtimestamp(START, timezone.utc).isoformat()}}
            if name == "Account":
                item["Classification"] = "Revenue" if number == 0 else "Expense" if number == step else "Asset"
                item["Active"] = True
            elif name == "Invoice":
                item["Line"] = [{"DetailType": "SalesItemLineDetail", "Amount": 100.0,
                                 "SalesItemLineDetail": {"ItemAccountRef": {"value": income}}}]
            elif name == "Bill":
                item["Line"] = [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": 100.0,
                                 "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}}}]
            elif name == "Payment":
                item["DepositToAccountRef"] = {"value": bank}
            elif name == "BillPayment":
                item["PayType"], item["CheckPayment"] = "Check", {"BankAccountRef": {"value": bank}}
            elif name == "JournalEntry":
                item["Line"] = [
                    {"DetailType": "JournalEntryLineDetail", "Amount": 100.0,
                     "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": expense}}},
                    {"DetailType": "JournalEntryLineDetail", "Amount": 100.0,
                     "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": bank}}}]
            books[name].append(item)
        else:
            # Accounts are documents 0, 5, 10…: codes "0" (income), "5" (expense), "10" (bank) and so on.
            item = {name[:-1] + "ID": str(uuid.UUID(int=number + 1)), "Name": f"{name} {number}", "Status": "ACTIVE",
                    "UpdatedDateUTC": f"/Date({int(START * 1000)}+0000)/", "DateString": day + "T00:00:00"}
            if name == "Accounts":
                item["Code"] = str(number)
                item["Class"] = "REVENUE" if number == 0 else "EXPENSE" if number == step else "ASSET"
            if name == "Contacts":
                item["IsCustomer"], item["IsSupplier"] = number % 2 == 0, number % 3 == 0
            if name == "Invoices":
                sale = number % 2 == 0
                item["Type"], item["Status"], item["Total"] = ("ACCREC" if sale else "ACCPAY"), "AUTHORISED", 100.0
                item["LineAmountTypes"] = "Exclusive"
                item["LineItems"] = [{"LineAmount": 100.0, "TaxAmount": 0.0, "AccountCode": "0" if sale else str(step)}]
            if name == "Payments":
                item["PaymentType"] = "ACCRECPAYMENT" if number % 2 == 0 else "ACCPAYPAYMENT"
                item["Status"], item["Amount"], item["Account"] = "AUTHORISED", 100.0, {"Code": str(2 * step)}
            if name == "ManualJournals":
                item["Status"] = "POSTED"
                item["JournalLines"] = [{"LineAmount": 100.0, "AccountCode": str(step)},
                                        {"LineAmount": -100.0, "AccountCode": str(2 * step)}]
            books[name].append(item)
    return books


def income_credit_minor():
    """What the ledger's income account holds once every invoice is posted."""
    if KIND == "quickbooks":
        return 10_000 * len(BOOKS["Invoice"])
    return 10_000 * sum(1 for item in BOOKS["Invoices"] if item["Type"] == "ACCREC")


BOOKS = company()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def do_PUT(self):
        url = urlparse(self.path)
        self.limited(url.path, parse_qs(url.query), self.body())

    def do_POST(self):
        url = urlparse(self.path)
        raw = self.body()
        if url.path == "/chart":
            return self.chart(json.loads(raw))
        if "/v3/company/" in url.path or "/api.xro/2.0/" in url.path:
            return self.limited(url.path, parse_qs(url.query), raw)
        form = parse_qs(raw.decode())
        if self.path.endswith("/revoke") or self.path.endswith("/revocation"):
            return self.answer(200, {})
        answer = {"access_token": "access-" + uuid.uuid4().hex, "refresh_token": "refresh-" + uuid.uuid4().hex,
                  "expires_in": 3600, "token_type": "bearer"}
        if form.get("grant_type", [""])[0] not in ("authorization_code", "refresh_token"):
            return self.answer(400, {"error": "unsupported_grant_type"})
        self.answer(200, answer)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/stats":
            return self.answer(200, stats)
        if url.path == "/expected":
            # What the ledger should hold once every document is posted: the income account's id here, its credit,
            # and how many documents post an entry.
            income = "1" if KIND == "quickbooks" else str(uuid.UUID(int=1))
            posting = [n for n in BOOKS if n not in ("Account", "Customer", "Vendor", "Accounts", "Contacts")]
            return self.answer(200, {"incomeAccount": income, "incomeCreditMinor": income_credit_minor(),
                                     "entries": sum(len(BOOKS[n]) for n in posting)})
        if url.path == "/authorize":
            # The user consents at once: back to the redirect URI with a code (and the realm, at QuickBooks).
            target = query["redirect_uri"][0] + "?code=bench-code&state=" + query["state"][0]
            if KIND == "quickbooks":
                target += "&realmId=" + REALM
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/connections":
            return self.answer(200, [{"tenantId": ORGANISATION, "tenantType": "ORGANISATION", "tenantName": "Bench Ltd"}])
        self.limited(url.path, query)

    def chart(self, accounts):
        """Accounts numbered as FinFlow's chart, added to the books (before the first sync reads them)."""
        classes = {"asset": "Asset", "liability": "Liability", "equity": "Equity", "revenue": "Revenue", "expense": "Expense"}
        with lock:
            for number, account in enumerate(accounts):
                if KIND == "quickbooks":
                    BOOKS["Account"].append({
                        "Id": f"c{number}", "SyncToken": "0", "domain": "QBO", "Name": account["name"], "AcctNum": account["code"],
                        "Classification": classes.get(account["type"], "Asset"), "Active": True,
                        "CurrencyRef": {"value": account.get("currency", "USD")},
                        "MetaData": {"LastUpdatedTime": datetime.fromtimestamp(START, timezone.utc).isoformat()}})
                else:
                    BOOKS["Accounts"].append({
                        "AccountID": str(uuid.uuid5(uuid.NAMESPACE_URL, "chart/" + account["code"])), "Code": account["code"],
                        "Name": account["name"], "Status": "ACTIVE", "Class": account["type"].upper(),
                        "UpdatedDateUTC": f"/Date({int(START * 1000)}+0000)/"})
        self.answer(200, {"added": len(accounts)})

    def write_journal(self, path, query, raw):
        """A pushed journal: made once per idempotency key, checked as the providers check one."""
        key = (query.get("requestid") or [None])[0] if KIND == "quickbooks" else self.headers.get("Idempotency-Key")
        with lock:
            if key and key in answered:
                return self.answer(200, answered[key])
        body = json.loads(raw)
        if KIND == "quickbooks":
            known = {item["Id"] for item in BOOKS["Account"]}
            lines = body.get("Line", [])
            debits = sum(l["Amount"] for l in lines if l["JournalEntryLineDetail"]["PostingType"] == "Debit")
            credits = sum(l["Amount"] for l in lines if l["JournalEntryLineDetail"]["PostingType"] == "Credit")
            ok = lines and abs(debits - credits) < 1e-9 and all(l["JournalEntryLineDetail"]["AccountRef"]["value"] in known for l in lines)
        else:
            body = body["ManualJournals"][0]
            known = {item.get("Code") for item in BOOKS["Accounts"]}
            lines = body.get("JournalLines", [])
            ok = lines and abs(sum(l["LineAmount"] for l in lines)) < 1e-9 and all(l["AccountCode"] in known for l in lines)
        if not ok:
            with lock:
                stats["writes_refused"] += 1
            return self.answer(400, {"Fault": {"Error": [{"Message": "Business Validation Error", "code": "6000"}]}})
        with lock:
            stats["journals_made"] += 1
            made = stats["journals_made"]
        stamp = f"/Date({int(time.time() * 1000)}+0000)/"
        if KIND == "quickbooks":
            body.update({"Id": f"j{made}", "SyncToken": "0", "domain": "QBO",
                         "MetaData": {"LastUpdatedTime": datetime.now(timezone.utc).isoformat()}})
            answer = {"JournalEntry": body, "time": datetime.now(timezone.utc).isoformat()}
        else:
            body.update({"ManualJournalID": str(uuid.uuid4()), "UpdatedDateUTC": stamp, "DateString": body["Date"] + "T00:00:00"})
            answer = {"Status": "OK", "ManualJournals": [body]}
        with lock:
            if key:
                answered[key] = answer
        self.answer(200, answer)

    def limited(self, path, query, raw=None):
        global in_flight
        now = time.time()
        with lock:
            stats["calls"] += 1
            while starts and now - starts[0] >= 60:
                starts.pop(0)
            if len(starts) >= PER_MINUTE or in_flight >= AT_ONCE:
                stats["throttled"] += 1
                refused = True
            else:
                refused = False
                starts.append(now)
                in_flight += 1
                stats["peak_at_once"] = max(stats["peak_at_once"], in_flight)
                stats["busiest_minute"] = max(stats["busiest_minute"], len(starts))
        if refused:
            return self.answer(429, {"Fault": {"Error": [{"Message": "ThrottleExceeded"}]}}, {"Retry-After": "1"})
        try:
            time.sleep(LATENCY_MS / 1000)
            if raw is not None and (path.endswith("/journalentry") or "/ManualJournals" in path):
                self.write_journal(path, query, raw)
            elif raw is not None:
                self.write_document(path, query, raw)
            else:
                self.serve_books(path, query)
        finally:
            with lock:
                in_flight -= 1

    def write_document(self, path, query, raw):
        """A pushed contact, item, invoice, bill or payment, or a void: made once per idempotency key."""
        key = (query.get("requestid") or [None])[0] if KIND == "quickbooks" else self.headers.get("Idempotency-Key")
        with lock:
            if key and key in answered:
                return self.answer(200, answered[key])
        body = json.loads(raw)
        names = {"customer": "Customer", "vendor": "Vendor", "item": "Item", "invoice": "Invoice", "bill": "Bill", "payment": "Payment",
                 "billpayment": "BillPayment"}
        now = datetime.now(timezone.utc).isoformat()
        stamp = f"/Date({int(time.time() * 1000)}+0000)/"
        with lock:
            stats["documents_made"] += 1
            made = stats["documents_made"]
            if KIND == "quickbooks":
                entity = names.get(path.rsplit("/", 1)[1])
                if entity is None:
                    return self.answer(400, {"Fault": {"Error": [{"Message": "Unsupported Operation", "code": "500"}]}})
                operation = (query.get("operation") or [None])[0]
                if operation == "delete":
                    answer = {entity: {"Id": body["Id"], "status": "Deleted", "domain": "QBO"}, "time": now}
                elif operation == "void":
                    stored = dict(written[entity][body["Id"]])
                    stored["Line"] = [dict(line, Amount=0) for line in stored.get("Line", [])]
                    stored.update({"TotalAmt": 0, "Balance": 0, "SyncToken": str(int(stored["SyncToken"]) + 1),
                                   "MetaData": {"LastUpdatedTime": now}})
                    written[entity][body["Id"]] = stored
                    answer = {entity: stored, "time": now}
                else:
                    for line in body.get("Line", []):
                        detail = line.get("SalesItemLineDetail")
                        if detail:
                            item = written.get("Item", {}).get(detail["ItemRef"]["value"], {})
                            detail["ItemAccountRef"] = item.get("IncomeAccountRef")
                    if entity in ("Invoice", "Bill"):
                        body["TotalAmt"] = round(sum(line["Amount"] for line in body.get("Line", [])), 2)
                        body["Balance"] = body["TotalAmt"]
                    body.update({"Id": f"d{made}", "SyncToken": "0", "domain": "QBO", "MetaData": {"LastUpdatedTime": now}})
                    written.setdefault(entity, {})[body["Id"]] = body
                    answer = {entity: body, "time": now}
            else:
                collection = path.split("/api.xro/2.0/", 1)[1].split("/")[0]
                item = body[collection][0]
                if collection == "Invoices" and "/Invoices/" in path:
                    stored = dict(written["Invoices"][item["InvoiceID"]], Status="VOIDED", UpdatedDateUTC=stamp)
                    written["Invoices"][item["InvoiceID"]] = stored
                    item = stored
                else:
                    field = {"Contacts": "ContactID", "Invoices": "InvoiceID", "Payments": "PaymentID"}[collection]
                    item.update({field: str(uuid.uuid4()), "UpdatedDateUTC": stamp})
                    if collection == "Invoices":
                        item["Total"] = round(sum(line["LineAmount"] for line in item.get("LineItems", [])), 2)
                        item["DateString"] = item["Date"] + "T00:00:00"
                    if collection == "Payments":
                        invoice = written.get("Invoices", {}).get(item["Invoice"]["InvoiceID"], {})
                        item.update({"Status": "AUTHORISED", "DateString": item["Date"] + "T00:00:00",
                                     "PaymentType": "ACCPAYPAYMENT" if invoice.get("Type") == "ACCPAY" else "ACCRECPAYMENT"})
                    written.setdefault(collection, {})[item[field]] = item
                answer = {"Status": "OK", collection: [item]}
            if key:
                answered[key] = answer
        self.answer(200, answer)

    def look_up(self, kind, field, name):
        """What the push's look-ups by name find among the documents it made."""
        with lock:
            return [item for item in written.get(kind, {}).values() if item.get(field) == name]

    def serve_books(self, path, query):
        if KIND == "quickbooks" and path.endswith("/query") and " = '" in query["query"][0]:
            text = query["query"][0]
            entity = text.split()[3]
            name = text.split(" = ", 1)[1].strip()[1:-1].replace("\\'", "'")
            found = self.look_up(entity, "Name" if entity == "Item" else "DisplayName", name)
            return self.answer(200, {"QueryResponse": {entity: found} if found else {}, "time": datetime.now(timezone.utc).isoformat()})
        if KIND == "quickbooks" and "/v3/company/" in path and path.count("/") == 5:
            # One pushed document read back by its id (before a void).
            kind, ident = path.rsplit("/", 2)[1:]
            names = {"invoice": "Invoice", "bill": "Bill"}
            stored = written.get(names.get(kind, ""), {}).get(ident)
            if stored is None:
                return self.answer(400, {"Fault": {"Error": [{"Message": "Object Not Found", "code": "610"}]}})
            return self.answer(200, {names[kind]: stored})
        if KIND == "xero" and path.endswith("/Contacts") and "where" in query:
            name = query["where"][0].split("==", 1)[1].strip('"')
            return self.answer(200, {"Status": "OK", "Contacts": self.look_up("Contacts", "Name", name)})
        if KIND == "quickbooks" and path.endswith("/query"):
            words = query["query"][0].split()
            entity = words[3]
            start = int(words[words.index("STARTPOSITION") + 1])
            count = int(words[words.index("MAXRESULTS") + 1])
            objects = BOOKS.get(entity, [])[start - 1:start - 1 + count]
            body = {"startPosition": start, "maxResults": len(objects)}
            if objects:
                body[entity] = objects
            return self.answer(200, {"QueryResponse": body, "time": datetime.now(timezone.utc).isoformat()})
        if KIND == "quickbooks" and path.endswith("/cdc"):
            # Nothing changed since the first sync.
            entities = query["entities"][0].split(",")
            return self.answer(200, {"CDCResponse": [{"QueryResponse": [{name: []} for name in entities]}]})
        if KIND == "xero" and path.startswith("/api.xro/2.0/"):
            name = path.rsplit("/", 1)[1]
            items = BOOKS.get(name, [])
            if self.headers.get("If-Modified-Since"):
                items = []
            if name != "Accounts":
                page = int(query.get("page", ["1"])[0])
                items = items[(page - 1) * 100:page * 100]
            remaining = max(0, PER_MINUTE - len(starts))
            return self.answer(200, {"Status": "OK", name: items}, {"X-MinLimit-Remaining": str(remaining)})
        self.answer(404, {"error": "not found"})


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
