import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("accounting: events from other services")
struct LedgerEventTests {
    static func publish<Contract: EventContract>(
        _ payload: Contract, tenantId: String, id: String = UUID().uuidString, time: Date = Date(), on sut: TestSystem
    ) async throws {
        let envelope = CloudEvent(
            id: id, source: "urn:finflow:service:test", type: Contract.eventType, time: time, subject: nil, tenantid: tenantId,
            dataschema: "urn:finflow:schema:\(Contract.eventType):\(Contract.schemaVersion)", data: payload)
        let json = try CloudEvent<Contract>.encoder.encode(envelope)
        try await sut.system.bus.publish(PublishedEvent(id: id, topic: Contract.topic, type: Contract.eventType, tenantId: tenantId, json: json))
    }

    /// The accounting outbox's events of `type`, decoded.
    static func outbox<Contract: EventContract>(_ contract: Contract.Type, _ sut: TestSystem) async throws -> [Contract] {
        let database = try #require(sut.system.databases["accounting"])
        let rows = try await database.read { db in
            try await db.raw("SELECT payload FROM outbox WHERE topic = \(bind: Contract.topic) ORDER BY created_at_ms, id").all(decoding: PayloadRow.self)
        }
        return try rows.map { try CloudEvent<Contract>.decoder.decode(CloudEvent<Contract>.self, from: Data($0.payload.utf8)).data }
    }

    @Test("a transaction posts once even when delivered twice; a refused one is answered with JournalEntryRejected")
    func transactions() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, user) = try await Books.open(client, sut)
            let a = try await books.accounts()
            let transaction = TransactionCreated(
                transactionId: UUID().uuidString.lowercased(), tenantId: user.tenantId, kind: "expense", amountMinor: 4_500,
                currency: "USD", valueDate: "2026-03-03", sourceAccountId: a["1020"]!, destinationAccountId: a["6200"]!,
                counterparty: "City Power", description: "Electricity March")
            let eventId = UUID().uuidString
            try await Self.publish(transaction, tenantId: user.tenantId, id: eventId, on: sut)
            try await Self.publish(transaction, tenantId: user.tenantId, id: eventId, on: sut)
            // Even a second event id for the same transaction posts nothing more.
            try await Self.publish(transaction, tenantId: user.tenantId, on: sut)
            #expect(try await books.balance(a["6200"]!) == 4_500)
            let posted = try await Self.outbox(JournalEntryPosted.self, sut).filter { $0.sourceId == transaction.transactionId }
            #expect(posted.count == 1 && posted.first?.source == "transaction")

            #expect(try await client.send(.post, "/v1/accounting/periods/2026-01/close", token: books.token).status == 200)
            let refused = TransactionCreated(
                transactionId: UUID().uuidString.lowercased(), tenantId: user.tenantId, kind: "expense", amountMinor: 100,
                currency: "USD", valueDate: "2026-01-10", sourceAccountId: a["1020"]!, destinationAccountId: a["6200"]!)
            try await Self.publish(refused, tenantId: user.tenantId, on: sut)
            let wrongCurrency = TransactionCreated(
                transactionId: UUID().uuidString.lowercased(), tenantId: user.tenantId, kind: "expense", amountMinor: 100,
                currency: "EUR", valueDate: "2026-03-10", sourceAccountId: a["1020"]!, destinationAccountId: a["6200"]!)
            try await Self.publish(wrongCurrency, tenantId: user.tenantId, on: sut)
            let malformed = TransactionCreated(
                transactionId: UUID().uuidString.lowercased(), tenantId: user.tenantId, kind: "expense", amountMinor: -1,
                currency: "USD", valueDate: "someday", sourceAccountId: "x", destinationAccountId: a["6200"]!)
            try await Self.publish(malformed, tenantId: user.tenantId, on: sut)
            let rejections = try await Self.outbox(JournalEntryRejected.self, sut)
            #expect(rejections.first { $0.sourceId == refused.transactionId }?.code == "period-closed")
            #expect(rejections.first { $0.sourceId == wrongCurrency.transactionId }?.code == "currency-mismatch")
            #expect(rejections.first { $0.sourceId == malformed.transactionId }?.code == "validation-failed")
            #expect(try await books.balance(a["6200"]!) == 4_500)
        }
    }

    @Test("a payment posts net cash, the fee and the customer's credit once (it names no invoice the books know); a refund takes it back; a failure posts nothing")
    func payments() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, user) = try await Books.open(client, sut)
            let a = try await books.accounts()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            func payment(_ status: String, amount: Int64, fee: Int64?, refundId: String? = nil) -> PaymentProcessed {
                PaymentProcessed(
                    paymentId: "pay-1", tenantId: user.tenantId, status: status, amountMinor: amount, currency: "USD", feeMinor: fee,
                    gateway: "stripe", gatewayReference: "pi_123", customerId: "cus_1", invoiceId: "inv-1", processedAtMillis: now,
                    refundId: refundId)
            }
            try await Self.publish(payment("succeeded", amount: 10_000, fee: 320), tenantId: user.tenantId, on: sut)
            try await Self.publish(payment("succeeded", amount: 10_000, fee: 320), tenantId: user.tenantId, on: sut)
            try await Self.publish(payment("failed", amount: 999, fee: nil), tenantId: user.tenantId, on: sut)
            #expect(try await books.balance(a["1030"]!) == 9_680)
            #expect(try await books.balance(a["6150"]!) == 320)
            // "inv-1" is no invoice of these books: the money is the customer's credit, not a negative receivable.
            #expect(try await books.balance(a["1100"]!) == 0)
            #expect(try await books.balance(a["2400"]!) == 10_000)
            let credit = try await client.send(.get, "/v1/accounting/customers/cus_1/credit", token: books.token)
            #expect(StatementTests.amount((credit.body["balances"] as? [[String: Any]])?.first?["amount"]) == 10_000, "\(credit.body)")
            try await Self.publish(payment("refunded", amount: 2_500, fee: nil, refundId: "re-1"), tenantId: user.tenantId, on: sut)
            try await Self.publish(payment("refunded", amount: 2_500, fee: nil, refundId: "re-1"), tenantId: user.tenantId, on: sut)
            try await Self.publish(payment("refunded", amount: 1_000, fee: nil, refundId: "re-2"), tenantId: user.tenantId, on: sut)
            #expect(try await books.balance(a["1030"]!) == 6_180)
            #expect(try await books.balance(a["1100"]!) == 0)
            #expect(try await books.balance(a["2400"]!) == 6_500)
            #expect(try await books.trialBalance()["USD"]?.debits == 13_500)
        }
    }
}

/// An outbox row's payload.
struct PayloadRow: Decodable { let payload: String }
