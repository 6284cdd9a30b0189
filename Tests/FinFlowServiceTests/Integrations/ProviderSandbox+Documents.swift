import FinFlowCore
import Foundation
import Hummingbird

/// The sandbox's documents written as the providers' references describe the writes FinFlow's push makes:
///
/// - QuickBooks Online: `POST /v3/company/{realmId}/{customer|vendor|item|invoice|bill|payment|billpayment}?requestid=…`
///   answering `{"<Entity>": {…}}`. Names are unique (`DisplayName` across customers and vendors, an item's `Name`),
///   else fault 6240 (Duplicate Name Exists Error); references must exist (fault 2500); an invoice line names an item
///   (`SalesItemLineDetail.ItemRef`), whose income account the answer shows as `ItemAccountRef`, and its `Amount` is
///   `Qty × UnitPrice`; `TotalAmt` is the lines' sum and `Balance` what is still owed; a payment's `LinkedTxn` lines are
///   applied to the invoice or bill they name (at most its balance), which takes a new `SyncToken`.
///   `?operation=void` on an invoice (with its current `SyncToken`, else fault 5010; refused once a payment is applied)
///   keeps it with every amount zero and `PrivateNote` prefixed `Voided`; `?operation=delete` on a bill deletes it.
///   `GET /v3/company/{realmId}/{entity}/{id}` reads one.
/// - Xero: `PUT /api.xro/2.0/Contacts` (a name already taken is a validation error), `PUT /api.xro/2.0/Invoices` (type
///   `ACCREC` or `ACCPAY` on an existing contact, line account codes of the chart, `LineAmount` = `Quantity` ×
///   `UnitAmount`, `Total` and `AmountDue` computed), `PUT /api.xro/2.0/Payments` (applied to an `AUTHORISED` invoice, at
///   most its `AmountDue`, which reaching zero makes it `PAID`), and `POST /api.xro/2.0/Invoices/{id}` with `Status:
///   VOIDED` (refused once a payment is applied); all with `Idempotency-Key`.
extension ProviderSandbox {
    private static func object(_ document: SandboxBooks.Document?) -> [String: Any]? {
        document.flatMap { (try? JSONSerialization.jsonObject(with: $0.json)) as? [String: Any] }
    }

    private static func reference(_ object: [String: Any], _ key: String) -> String? {
        (object[key] as? [String: Any])?["value"] as? String
    }

    func readQuickBooksDocument(_ entity: String, id: String) -> Response {
        let name = Self.quickbooksEntity(entity)
        return self.books.withLock { books in
            guard let document = books.collections[name]?[id], !document.deleted else {
                return Self.fault("Object Not Found", "Object Not Found : Something you're trying to use has been made inactive.", code: "610")
            }
            return Self.json([name: self.quickbooksObject(document, id: id), "time": Self.quickbooksTime(self.now)])
        }
    }

    static func quickbooksEntity(_ path: String) -> String {
        ["customer": "Customer", "vendor": "Vendor", "item": "Item", "invoice": "Invoice", "bill": "Bill", "payment": "Payment",
         "billpayment": "BillPayment"][path] ?? path
    }

    /// A QuickBooks document created, voided or deleted, as QuickBooks checks it.
    func writeQuickBooksDocument(_ path: String, _ body: Data, requestId: String?, operation: String?) -> Response {
        let now = self.now
        let entity = Self.quickbooksEntity(path)
        return self.books.withLock { books -> Response in
            if let requestId, let answer = books.answered[requestId] { return StandIn.response(.ok, String(decoding: answer, as: UTF8.self)) }
            guard var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
                return Self.fault("Request has invalid or unsupported property", "the body is not JSON")
            }
            func live(_ collection: String, _ id: String?) -> [String: Any]? {
                guard let id, let document = books.collections[collection]?[id], !document.deleted else { return nil }
                return Self.object(document)
            }
            func missing(_ what: String, _ id: String?) -> Response {
                Self.fault("Invalid Reference Id", "Invalid Reference Id : \(what) element id \(id ?? "") not found", code: "2500")
            }
            func save(_ collection: String, _ id: String, _ object: [String: Any], version: Int, deleted: Bool = false) -> SandboxBooks.Document {
                let document = SandboxBooks.Document(json: try! JSONSerialization.data(withJSONObject: object), updated: now, version: version, deleted: deleted)
                books.collections[collection, default: [:]][id] = document
                return document
            }
            func answer(_ collection: String, _ id: String, _ document: SandboxBooks.Document) -> Response {
                let data = try! JSONSerialization.data(withJSONObject: [collection: self.quickbooksObject(document, id: id), "time": Self.quickbooksTime(now)])
                if let requestId { books.answered[requestId] = data }
                return StandIn.response(.ok, String(decoding: data, as: UTF8.self))
            }
            /// Applies `amount` to the invoice or bill `id` (negative to take a payment back), with a new SyncToken.
            func apply(_ collection: String, _ id: String, _ amount: Decimal) -> Bool {
                guard let current = books.collections[collection]?[id], !current.deleted, var linked = Self.object(current),
                    let balance = Self.decimal(linked["Balance"]), amount <= balance
                else { return false }
                linked["Balance"] = NSDecimalNumber(decimal: balance - amount)
                _ = save(collection, id, linked, version: current.version + 1)
                return true
            }

            if let operation {
                guard let id = object["Id"] as? String, let current = books.collections[entity]?[id], !current.deleted, var stored = Self.object(current)
                else { return Self.fault("Object Not Found", "Object Not Found : Something you're trying to use has been made inactive.", code: "610") }
                guard object["SyncToken"] as? String == "\(current.version)" else {
                    return Self.fault("Stale Object Error", "Stale Object Error : You and root were working on this at the same time.", code: "5010")
                }
                switch (entity, operation) {
                case ("Invoice", "void"):
                    guard Self.decimal(stored["Balance"]) == Self.decimal(stored["TotalAmt"]) else {
                        return Self.fault("A business validation error has occurred while processing your request",
                                          "Business Validation Error: This transaction has payments applied to it.", code: "6540")
                    }
                    stored["Line"] = (stored["Line"] as? [[String: Any]] ?? []).map { line in
                        var line = line
                        line["Amount"] = 0
                        return line
                    }
                    stored["TotalAmt"] = 0
                    stored["Balance"] = 0
                    stored["PrivateNote"] = "Voided - " + ((stored["PrivateNote"] as? String) ?? "")
                    return answer(entity, id, save(entity, id, stored, version: current.version + 1))
                case ("Bill", "delete"):
                    guard Self.decimal(stored["Balance"]) == Self.decimal(stored["TotalAmt"]) else {
                        return Self.fault("A business validation error has occurred while processing your request",
                                          "Business Validation Error: This transaction has payments applied to it.", code: "6540")
                    }
                    _ = save(entity, id, stored, version: current.version + 1, deleted: true)
                    let data = try! JSONSerialization.data(withJSONObject: [entity: ["Id": id, "status": "Deleted", "domain": "QBO"], "time": Self.quickbooksTime(now)])
                    if let requestId { books.answered[requestId] = data }
                    return StandIn.response(.ok, String(decoding: data, as: UTF8.self))
                default:
                    return Self.fault("Operation not supported", "\(operation) on \(entity)")
                }
            }

            var total = Decimal(0)
            switch entity {
            case "Customer", "Vendor":
                guard let name = object["DisplayName"] as? String, !name.isEmpty else { return Self.fault("Required param missing", "DisplayName") }
                let taken = ["Customer", "Vendor"].contains { collection in
                    (books.collections[collection] ?? [:]).values.contains { !$0.deleted && Self.object($0)?["DisplayName"] as? String == name }
                }
                guard !taken else {
                    return Self.fault("Duplicate Name Exists Error", "The name supplied already exists. : Another customer, vendor or employee is already using this name.", code: "6240")
                }
                object["Active"] = true
            case "Item":
                guard let name = object["Name"] as? String, !name.isEmpty, !name.contains(":") else { return Self.fault("Required param missing", "Name") }
                guard !(books.collections["Item"] ?? [:]).values.contains(where: { !$0.deleted && Self.object($0)?["Name"] as? String == name }) else {
                    return Self.fault("Duplicate Name Exists Error", "The name supplied already exists.", code: "6240")
                }
                guard live("Account", Self.reference(object, "IncomeAccountRef")) != nil else { return missing("Accounts", Self.reference(object, "IncomeAccountRef")) }
            case "Invoice", "Bill":
                let sales = entity == "Invoice"
                let contactKey = sales ? "CustomerRef" : "VendorRef"
                guard let contact = live(sales ? "Customer" : "Vendor", Self.reference(object, contactKey)) else {
                    return missing(sales ? "Customer" : "Vendor", Self.reference(object, contactKey))
                }
                object[contactKey] = ["value": Self.reference(object, contactKey)!, "name": contact["DisplayName"] ?? ""]
                var lines: [[String: Any]] = []
                for var line in object["Line"] as? [[String: Any]] ?? [] {
                    let amount = Self.decimal(line["Amount"]) ?? 0
                    if sales {
                        guard var detail = line["SalesItemLineDetail"] as? [String: Any], let itemId = Self.reference(detail, "ItemRef"),
                            let item = live("Item", itemId)
                        else { return missing("Item", Self.reference(line["SalesItemLineDetail"] as? [String: Any] ?? [:], "ItemRef")) }
                        if let quantity = Self.decimal(detail["Qty"]), let price = Self.decimal(detail["UnitPrice"]), quantity * price != amount {
                            return Self.fault("A business validation error has occurred while processing your request",
                                              "Business Validation Error: Amount is not equal to UnitPrice * Qty.", code: "6070")
                        }
                        detail["ItemRef"] = ["value": itemId, "name": item["Name"] ?? ""]
                        detail["ItemAccountRef"] = item["IncomeAccountRef"]
                        line["SalesItemLineDetail"] = detail
                    } else {
                        let account = Self.reference(line["AccountBasedExpenseLineDetail"] as? [String: Any] ?? [:], "AccountRef")
                        guard live("Account", account) != nil else { return missing("Accounts", account) }
                    }
                    total += amount
                    lines.append(line)
                }
                guard !lines.isEmpty else { return Self.fault("Required param missing", "Line") }
                object["Line"] = lines
                object["TotalAmt"] = NSDecimalNumber(decimal: total)
                object["Balance"] = NSDecimalNumber(decimal: total)
            case "Payment", "BillPayment":
                let received = entity == "Payment"
                let contactKey = received ? "CustomerRef" : "VendorRef"
                guard live(received ? "Customer" : "Vendor", Self.reference(object, contactKey)) != nil else {
                    return missing(received ? "Customer" : "Vendor", Self.reference(object, contactKey))
                }
                let account = received ? Self.reference(object, "DepositToAccountRef")
                    : Self.reference(object["CheckPayment"] as? [String: Any] ?? [:], "BankAccountRef")
                guard live("Account", account) != nil else { return missing("Accounts", account) }
                var applied: [(String, Decimal)] = []
                for line in object["Line"] as? [[String: Any]] ?? [] {
                    let amount = Self.decimal(line["Amount"]) ?? 0
                    for linked in line["LinkedTxn"] as? [[String: Any]] ?? [] {
                        guard let id = linked["TxnId"] as? String, linked["TxnType"] as? String == (received ? "Invoice" : "Bill") else {
                            return Self.fault("Invalid Reference Id", "LinkedTxn", code: "2500")
                        }
                        applied.append((id, amount))
                    }
                    total += amount
                }
                guard total == Self.decimal(object["TotalAmt"]) else {
                    return Self.fault("A business validation error has occurred while processing your request",
                                      "Business Validation Error: the amount applied differs from TotalAmt.", code: "6000")
                }
                for (id, amount) in applied where !apply(received ? "Invoice" : "Bill", id, amount) {
                    return Self.fault("A business validation error has occurred while processing your request",
                                      "Business Validation Error: the amount applied is more than the transaction's balance (\(id)).", code: "6000")
                }
            default:
                return Self.fault("Unsupported Operation", "Operation Create is not supported for \(entity)", code: "500")
            }
            let id = "\(books.nextId)"
            books.nextId += 1
            object["Id"] = id
            object["domain"] = "QBO"
            return answer(entity, id, save(entity, id, object, version: 0))
        }
    }

    private static func xeroFault(_ message: String) -> Response {
        StandIn.response(.badRequest, String(decoding: try! JSONSerialization.data(withJSONObject: [
            "ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
            "Elements": [["ValidationErrors": [["Message": message]]]],
        ]), as: UTF8.self))
    }

    /// A Xero contact, invoice or payment created, or an invoice voided, as Xero checks it.
    func writeXeroDocument(_ collection: String, _ body: Data, id: String?, key: String?) -> Response {
        let now = self.now
        return self.books.withLock { books -> Response in
            if let key, let answer = books.answered[key] { return StandIn.response(.ok, String(decoding: answer, as: UTF8.self)) }
            guard let wrapper = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
                var object = (wrapper[collection] as? [[String: Any]])?.first
            else { return Self.xeroFault("the body is not a \(collection) request") }
            func stored(_ collection: String, _ id: String?) -> (SandboxBooks.Document, [String: Any])? {
                guard let id, let document = books.collections[collection]?[id], !document.deleted, let object = Self.object(document) else { return nil }
                return (document, object)
            }
            func save(_ collection: String, _ id: String, _ object: [String: Any]) -> SandboxBooks.Document {
                let old = books.collections[collection]?[id]
                let document = SandboxBooks.Document(
                    json: try! JSONSerialization.data(withJSONObject: object), updated: max(now, (old?.updated ?? now).addingTimeInterval(0.001)),
                    version: old.map { $0.version + 1 } ?? 0, deleted: false)
                books.collections[collection, default: [:]][id] = document
                return document
            }
            func answer(_ document: SandboxBooks.Document) -> Response {
                let data = try! JSONSerialization.data(withJSONObject: ["Id": UUID().uuidString.lowercased(), "Status": "OK", collection: [Self.xeroObject(document)]])
                if let key { books.answered[key] = data }
                return StandIn.response(.ok, String(decoding: data, as: UTF8.self))
            }
            func dated(_ object: inout [String: Any]) {
                if let date = object["Date"] as? String, let day = ISO8601DateFormatter().date(from: date + "T00:00:00Z") {
                    object["Date"] = "/Date(\(Int64(day.timeIntervalSince1970 * 1_000))+0000)/"
                    object["DateString"] = date + "T00:00:00"
                }
            }
            let codes = Set((books.collections["Accounts"] ?? [:]).values.compactMap { Self.object($0)?["Code"] as? String })

            if let id {
                // Only a void is written over an invoice here.
                guard let (_, current) = stored("Invoices", id) else { return StandIn.response(.notFound, #"{"Title":"Not Found","Status":404}"#) }
                guard object["Status"] as? String == "VOIDED" else { return Self.xeroFault("only a void is written over an invoice here") }
                guard current["Status"] as? String == "AUTHORISED", Self.decimal(current["AmountPaid"]) ?? 0 == 0 else {
                    return Self.xeroFault("Invoice not of valid status for modification")
                }
                var voided = current
                voided["Status"] = "VOIDED"
                voided["AmountDue"] = 0
                return answer(save("Invoices", id, voided))
            }
            let newId = UUID().uuidString.lowercased()
            switch collection {
            case "Contacts":
                guard let name = object["Name"] as? String, !name.isEmpty else { return Self.xeroFault("The contact name must be specified") }
                guard !(books.collections["Contacts"] ?? [:]).values.contains(where: { !$0.deleted && Self.object($0)?["Name"] as? String == name }) else {
                    return Self.xeroFault("The contact name \(name) is already assigned to another contact. The contact name must be unique across all active contacts.")
                }
                object["ContactID"] = newId
                object["ContactStatus"] = "ACTIVE"
                return answer(save("Contacts", newId, object))
            case "Invoices":
                let sales = object["Type"] as? String == "ACCREC"
                guard sales || object["Type"] as? String == "ACCPAY" else { return Self.xeroFault("Type must be ACCREC or ACCPAY") }
                guard let contactId = (object["Contact"] as? [String: Any])?["ContactID"] as? String, var (_, contact) = stored("Contacts", contactId) else {
                    return Self.xeroFault("The contact does not exist")
                }
                var total = Decimal(0)
                for line in object["LineItems"] as? [[String: Any]] ?? [] {
                    guard let code = line["AccountCode"] as? String, codes.contains(code) else { return Self.xeroFault("Account code is not valid") }
                    let amount = Self.decimal(line["LineAmount"]) ?? 0
                    if let quantity = Self.decimal(line["Quantity"]), let price = Self.decimal(line["UnitAmount"]), quantity * price != amount {
                        return Self.xeroFault("The line total \(amount) does not match the expected line total \(quantity * price)")
                    }
                    total += amount
                }
                object["InvoiceID"] = newId
                object["Contact"] = ["ContactID": contactId, "Name": contact["Name"] ?? ""]
                object["SubTotal"] = NSDecimalNumber(decimal: total)
                object["TotalTax"] = 0
                object["Total"] = NSDecimalNumber(decimal: total)
                object["AmountDue"] = NSDecimalNumber(decimal: total)
                object["AmountPaid"] = 0
                dated(&object)
                // A contact a document names becomes a customer or supplier.
                contact[sales ? "IsCustomer" : "IsSupplier"] = true
                _ = save("Contacts", contactId, contact)
                return answer(save("Invoices", newId, object))
            case "Payments":
                guard let invoiceId = (object["Invoice"] as? [String: Any])?["InvoiceID"] as? String, var (_, invoice) = stored("Invoices", invoiceId),
                    invoice["Status"] as? String == "AUTHORISED"
                else { return Self.xeroFault("Payment can only be made against Authorised documents") }
                guard let code = (object["Account"] as? [String: Any])?["Code"] as? String, codes.contains(code) else {
                    return Self.xeroFault("Account code is not valid")
                }
                let amount = Self.decimal(object["Amount"]) ?? 0, due = Self.decimal(invoice["AmountDue"]) ?? 0
                guard amount > 0, amount <= due else { return Self.xeroFault("Payment amount exceeds the amount outstanding on this document") }
                invoice["AmountDue"] = NSDecimalNumber(decimal: due - amount)
                invoice["AmountPaid"] = NSDecimalNumber(decimal: (Self.decimal(invoice["AmountPaid"]) ?? 0) + amount)
                if due == amount { invoice["Status"] = "PAID" }
                _ = save("Invoices", invoiceId, invoice)
                let sales = invoice["Type"] as? String == "ACCREC"
                object["PaymentID"] = newId
                object["Status"] = "AUTHORISED"
                object["PaymentType"] = sales ? "ACCRECPAYMENT" : "ACCPAYPAYMENT"
                object["Invoice"] = ["InvoiceID": invoiceId, "Type": invoice["Type"] ?? "", "InvoiceNumber": invoice["InvoiceNumber"] ?? "",
                                     "Contact": invoice["Contact"] ?? [:]]
                dated(&object)
                return answer(save("Payments", newId, object))
            default:
                return StandIn.response(.notFound, "{}")
            }
        }
    }
}
