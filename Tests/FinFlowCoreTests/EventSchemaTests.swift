import FinFlowCore
import Foundation
import Testing

/// Every event contract has its JSON Schema in docs/events/, and what the contract encodes matches it: a field added,
/// removed, renamed or retyped in Swift without its schema fails here.
@Suite("event schemas")
struct EventSchemaTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs")

    /// An instance of every contract, each optional field set, with its topic.
    static let samples: [(topic: String, value: any EventContract)] = [
        (TaxCommitted.topic, TaxCommitted(
            documentId: "d", tenantId: "t", code: "INV-1", documentType: "sales-invoice", documentDate: "2026-03-02", currency: "EUR",
            netMinor: 10_000, taxMinor: 1_900, selfAssessedTaxMinor: 0, totalMinor: 11_900,
            amounts: [.init(jurisdiction: "DE", taxType: "vat", rate: "19", treatment: "domestic", taxableMinor: 10_000, taxMinor: 1_900,
                            selfAssessed: false, recoverable: true, account: "DE")],
            lines: [.init(number: 1, amountMinor: 10_000, taxMinor: 1_900, selfAssessedTaxMinor: 0, rate: "19", recoverable: true)])),
        (TaxLedgerPosted.topic, TaxLedgerPosted(
            entryId: "e", tenantId: "t", accountingDate: "2026-03-02", taxDocumentId: "d", filingId: "f",
            movements: [.init(jurisdiction: "DE", kind: "output", currency: "EUR", amountMinor: 1_900)])),
        (TaxReturnFiled.topic, TaxReturnFiled(
            filingId: "f", tenantId: "t", kind: "vat", jurisdiction: "DE", periodStart: "2026-01-01", periodEnd: "2026-03-31", currency: "EUR",
            outputTaxMinor: 1_900, inputTaxMinor: 400, netMinor: 1_500, accounts: [.init(account: "DE", outputTaxMinor: 1_900, inputTaxMinor: 400)])),
        (TaxVoided.topic, TaxVoided(documentId: "d", tenantId: "t", code: "INV-1", documentType: "sales-invoice", reason: "issued in error")),
        (UserRegistered.topic, UserRegistered(userId: "u", email: "a@example.com", displayName: "A", organizationName: "A Ltd")),
        (MembershipChanged.topic, MembershipChanged(tenantId: "t", userId: "u", roles: ["owner"], status: "active", changedAtMillis: 1, permissions: ["p"])),
        (TenantCreated.topic, TenantCreated(tenantId: "t", name: "T", baseCurrency: "EUR", fiscalYearStartMonth: 1, ownerUserId: "u")),
        (TenantStatusChanged.topic, TenantStatusChanged(tenantId: "t", status: "suspended")),
        (SessionRevoked.topic, SessionRevoked(sessionId: "s", userId: "u", reason: "logout")),
        (MailRequested.topic, MailRequested(to: "a@example.com", subject: "S", body: "B", purpose: "verify-email")),
        (TenantPolicyChanged.topic, TenantPolicyChanged(tenantId: "t", mfaRequiredRoles: ["owner"])),
        (TransactionCreated.topic, TransactionCreated(
            transactionId: "x", tenantId: "t", kind: "transfer", amountMinor: 100, currency: "EUR", valueDate: "2026-01-31",
            sourceAccountId: "a", destinationAccountId: "b", counterparty: "C", category: "c", description: "d", externalReference: "r",
            counterpartyCountry: "DE", postingHeldFor: "compliance")),
        (TransactionPostingRequested.topic, TransactionPostingRequested(TransactionCreated(
            transactionId: "x", tenantId: "t", kind: "transfer", amountMinor: 100, currency: "EUR", valueDate: "2026-01-31",
            sourceAccountId: "a", destinationAccountId: "b", counterparty: "C", description: "d", externalReference: "r"))),
        (ComplianceTransactionDecided.topic, ComplianceTransactionDecided(
            transactionId: "x", tenantId: "t", outcome: "approve", decidedBy: "officer", userId: "u", score: 40, reason: "checked",
            decidedAtMillis: 1)),
        (PaymentProcessed.topic, PaymentProcessed(
            paymentId: "p", tenantId: "t", status: "succeeded", amountMinor: 100, currency: "EUR", feeMinor: 3, gateway: "stripe",
            gatewayReference: "ch_1", customerId: "c", invoiceId: "i", processedAtMillis: 1, refundId: "re_1")),
        (JournalEntryPosted.topic, JournalEntryPosted(entryId: "e", tenantId: "t", source: "transaction", sourceId: "x", accountingDate: "2026-01-31", reversesEntryId: "e0")),
        (JournalEntryRejected.topic, JournalEntryRejected(tenantId: "t", source: "transaction", sourceId: "x", code: "period-closed", reason: "closed")),
        (LedgerAccountChanged.topic, LedgerAccountChanged(
            accountId: "a", tenantId: "t", code: "1000", name: "Cash", type: "asset", currency: "EUR", status: "active", changedAtMillis: 1)),
        (TransactionStatusChanged.topic, TransactionStatusChanged(
            transactionId: "x", tenantId: "t", status: "rejected", previousStatus: "pending", code: "period-closed", reason: "closed",
            entryId: "e", changedAtMillis: 1)),
        (ComplianceAlert.topic, ComplianceAlert(
            alertId: "a", tenantId: "t", kind: "aml", severity: "critical", subjectType: "user", subjectId: "u", userId: "u",
            action: "end-sessions", reason: "structuring", raisedAtMillis: 1)),
        (TransactionReversalRequested.topic, TransactionReversalRequested(transactionId: "x", tenantId: "t", reversalDate: "2026-02-01", reason: "r")),
        (LoanOfferAccepted.topic, LoanOfferAccepted(
            offerId: "o", tenantId: "t", decisionId: "d", customerId: "c", principalMinor: 100_000, feeMinor: 1_000, currency: "EUR",
            termMonths: 12, rateBps: 900, monthlyPaymentMinor: 8_745, disbursementDate: "2026-02-01", acceptedAtMillis: 1)),
        (InvoiceSettled.topic, InvoiceSettled(
            invoiceId: "i", tenantId: "t", customerId: "c", currency: "EUR", totalMinor: 10_000, dueDate: "2026-03-31",
            settledDate: "2026-03-20", settledBy: "payment")),
        (BillPosted.topic, BillPosted(
            billId: "b", tenantId: "t", kind: "bill", vendorId: "v", vendorReference: "V-1", currency: "EUR", subtotalMinor: 10_000, taxMinor: 1_900,
            recoverableTaxMinor: 1_900, totalMinor: 11_900, billDate: "2026-03-01", dueDate: "2026-03-31", entryId: "e", creditedBillId: "b0")),
        (BillSettled.topic, BillSettled(
            billId: "b", tenantId: "t", vendorId: "v", currency: "EUR", totalMinor: 11_900, billDate: "2026-03-01", dueDate: "2026-03-31",
            settledDate: "2026-03-30", settledBy: "payment")),
        (LedgerMovementsRecorded.topic, LedgerMovementsRecorded(
            tenantId: "t", entryIds: ["e"], entryCount: 1,
            movements: [.init(accountingDate: "2026-03-02", accountId: "a", code: "1000", name: "Cash", type: "asset", cashFlowTag: "cash", role: "disbursement",
                              currency: "EUR", debitMinor: 100, creditMinor: 0, entryIds: ["e"])])),
        (InvoiceIssued.topic, InvoiceIssued(
            invoiceId: "i", tenantId: "t", kind: "credit_note", number: "CN-1", customerId: "c", currency: "EUR", totalMinor: 100,
            issueDate: "2026-03-02", dueDate: "2026-04-01", creditedInvoiceId: "i0")),
        (InvoiceVoided.topic, InvoiceVoided(invoiceId: "i", tenantId: "t", voidedDate: "2026-03-03")),
        (IntegrationConnectionChanged.topic, IntegrationConnectionChanged(
            tenantId: "t", connectionId: "c", provider: "quickbooks", status: "needs-authorisation", externalId: "9130357992181146",
            reason: "QuickBooks Online refused the grant: invalid_grant", changedAtMillis: 1)),
        (IntegrationPushChanged.topic, IntegrationPushChanged(
            tenantId: "t", connectionId: "c", enabled: true, since: "2026-01-01", changedAtMillis: 1)),
        (JournalEntryShared.topic, JournalEntryShared(
            tenantId: "t", entryId: "e", source: "manual", accountingDate: "2026-03-02", description: "Rent", reference: "R-1",
            reversesEntryId: "o", connectionId: "c",
            lines: [.init(accountId: "a", accountCode: "6100", accountName: "Rent", side: "debit", amount: "1200.00", currency: "USD", memo: "March")],
            document: .init(
                kind: "invoice", documentId: "i", number: "INV-000001", contactId: "cust-1", contactName: "Acme", date: "2026-03-02",
                dueDate: "2026-04-01", currency: "USD", total: "1200.00", tax: "0.00", paidEntryId: "p",
                lines: [.init(description: "Widget", quantity: "1.5", unitPrice: "800.00", amount: "1200.00", accountId: "r", accountCode: "4000",
                              accountName: "Sales")],
                taxLines: [.init(description: "Tax", quantity: "1", unitPrice: "96.00", amount: "96.00", accountId: "x", accountCode: "2200",
                                 accountName: "Sales tax")]))),
        (IntegrationSynced.topic, IntegrationSynced(
            tenantId: "t", connectionId: "c", provider: "quickbooks", kind: "invoice", externalId: "130", documentId: "d", version: "2",
            deleted: false, label: "1037",
            account: .init(code: "4000", name: "Sales", type: "revenue", currency: "USD", active: true),
            posting: .init(date: "2026-03-02", currency: "USD", number: "1037", contact: "Amy's Bird Sanctuary",
                           lines: [.init(side: "debit", amount: "108.00", accountId: "r", role: "receivables", description: "d"),
                                   .init(side: "credit", amount: "108.00", accountId: "a", role: "r", description: "d")]))),
        (WebhookEndpointDisabled.topic, WebhookEndpointDisabled(
            tenantId: "t", endpointId: "w", url: "https://example.com/hook", reason: "failing", lastError: "HTTP 500", disabledAtMillis: 1)),
        (AnomalyDetected.topic, AnomalyDetected(
            anomalyId: "a", tenantId: "t", subjectType: "transaction", subjectId: "x", score: 0.93, threshold: 0.9, amountMinor: 100, currency: "EUR",
            reasons: [.init(feature: "burst", value: 15.5, contribution: 0.91, detail: "d")], sequence: 4, detectedAtMillis: 1)),
        (InsightRaised.topic, InsightRaised(
            insightId: "n", tenantId: "t", kind: "late-payer", subject: "c", currency: "EUR", amountAtStakeMinor: 100, sentence: "s",
            raisedAtMillis: 1)),
        (AuditRecorded.topic, AuditRecorded(
            service: "auth", recordId: "r", tenantId: "t", seq: 1, occurredAtMillis: 1, actorId: "u", action: "auth.sign-in", target: "s",
            outcome: "success", clientAddress: "127.0.0.1", details: "{}", prevHash: "0", hash: "h")),
        (AuditCheckpointed.topic, AuditCheckpointed(
            service: "auth", tenantId: "t", seq: 1, hash: "h", signedAtMillis: 1, keyId: "k", publicKey: "p", signature: "s")),
        (DataSubjectRequestOpened.topic, DataSubjectRequestOpened(
            requestId: "r", tenantId: "t", kind: "access", userId: "u", customerId: "c", email: "a@example.com", names: ["A"], openedAtMillis: 1)),
        (DataSubjectRequestAnswered.topic, DataSubjectRequestAnswered(
            requestId: "r", tenantId: "t", service: "auth", outcome: "data", records: 1, chunkIndex: 0, chunkCount: 1, content: "{}",
            partSha256: "h", answeredAtMillis: 1)),
    ]

    static func object(_ value: any EventContract) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
    }

    @Test("each contract encodes exactly what its schema describes", arguments: samples.map(\.topic))
    func matchesSchema(topic: String) throws {
        let value = try #require(Self.samples.first { $0.topic == topic }?.value)
        let file = Self.docs.appendingPathComponent("events/\(topic).schema.json")
        let schema = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any], "no schema at \(file.path)")
        #expect(schema["additionalProperties"] as? Bool == false)
        let properties = try #require(schema["properties"] as? [String: [String: Any]])
        let required = Set((schema["required"] as? [String]) ?? [])
        let encoded = try Self.object(value)
        #expect(Set(encoded.keys) == Set(properties.keys), "\(topic): the contract has \(encoded.keys.sorted()), the schema \(properties.keys.sorted())")
        #expect(required.isSubset(of: encoded.keys))
        Self.check(encoded, against: properties, at: topic)
    }

    /// Each field of `encoded` has the type its schema property names (a boolean told from a number); arrays of strings, and arrays of objects whose
    /// fields are checked the same way.
    static func check(_ encoded: [String: Any], against properties: [String: [String: Any]], at path: String) {
        for (key, encodedValue) in encoded {
            let type = properties[key]?["type"] as? String
            switch encodedValue {
            case is String: #expect(type == "string", "\(path).\(key)")
            case let number as NSNumber where String(cString: number.objCType) == "c": #expect(type == "boolean", "\(path).\(key)")
            case let number as NSNumber where ["d", "f"].contains(String(cString: number.objCType)): #expect(type == "number", "\(path).\(key)")
            case is NSNumber: #expect(type == "integer", "\(path).\(key)")
            case let array as [Any]:
                let items = properties[key]?["items"] as? [String: Any]
                #expect(type == "array", "\(path).\(key)")
                if items?["type"] as? String == "object", let nested = items?["properties"] as? [String: [String: Any]] {
                    #expect(items?["additionalProperties"] as? Bool == false, "\(path).\(key)")
                    for element in array {
                        guard let object = element as? [String: Any] else { Issue.record("\(path).\(key) holds a non-object"); continue }
                        #expect(Set(object.keys) == Set(nested.keys), "\(path).\(key): \(object.keys.sorted()) against \(nested.keys.sorted())")
                        Self.check(object, against: nested, at: "\(path).\(key)[]")
                    }
                } else {
                    #expect(items?["type"] as? String == "string", "\(path).\(key)")
                }
            case let object as [String: Any]:
                #expect(type == "object", "\(path).\(key)")
                #expect(properties[key]?["additionalProperties"] as? Bool == false, "\(path).\(key)")
                let nested = properties[key]?["properties"] as? [String: [String: Any]] ?? [:]
                #expect(Set(object.keys) == Set(nested.keys), "\(path).\(key): \(object.keys.sorted()) against \(nested.keys.sorted())")
                Self.check(object, against: nested, at: "\(path).\(key)")
            default: Issue.record("\(path).\(key) has a type the schemas do not use")
            }
        }
    }

    @Test("no schema without a contract, and the catalogue names every event")
    func catalogue() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.docs.appendingPathComponent("events").path)
        #expect(Set(files) == Set(Self.samples.map { "\($0.topic).schema.json" }))
        let catalogue = try String(contentsOf: Self.docs.appendingPathComponent("events.md"), encoding: .utf8)
        for (topic, _) in Self.samples {
            #expect(catalogue.contains("`\(topic.split(separator: ".").dropLast().joined(separator: "."))`"), "docs/events.md does not list \(topic)")
        }
    }
}
