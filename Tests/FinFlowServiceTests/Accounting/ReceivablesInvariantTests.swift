import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

/// Seeded random sequences of invoicing and collection: invoices issued, paid by hand and through gateways (exact,
/// partial, over, in another currency, naming paid, void or unknown invoices), refunded, credited, voided and settled
/// from customer credit. After every step the receivables control account equals the open invoices, customer deposits
/// equal the customers' credit, and the aging report agrees with both.
@Suite("accounting: receivables agree with the open invoices")
struct ReceivablesInvariantTests {
    static let steps = 90

    @Test("under random sequences, receivables equal open invoices and customer deposits equal customer credit", arguments: [UInt64(7), 2_026])
    func invariant(seed: UInt64) async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, user) = try await Books.open(client, sut, tag: "receivables-\(seed)")
            let a = try await books.accounts()
            var random = Mutator(seed: seed)
            let customers = ["acme", "globex", "initech"]
            var invoices: [String] = []
            var payments: [(id: String, invoiceId: String?, amount: Int64, refunded: Int64)] = []
            var clock = Int64(Date().timeIntervalSince1970 * 1000)
            func invoice(_ id: String) async throws -> [String: Any] { try await client.send(.get, "/v1/accounting/invoices/\(id)", token: books.token).body }
            func pay(_ invoiceId: String?, _ amount: Int64, currency: String = "USD", refundOf: String? = nil, customer: String? = nil) async throws {
                clock += 1_000
                let id = refundOf ?? "pay-\(payments.count + 1)"
                try await LedgerEventTests.publish(
                    PaymentProcessed(paymentId: id, tenantId: user.tenantId, status: refundOf == nil ? "succeeded" : "refunded", amountMinor: amount,
                                     currency: currency, feeMinor: refundOf == nil ? random.pick([nil, 0, 30]) : nil, gateway: "stripe",
                                     gatewayReference: "pi_\(id)", customerId: customer, invoiceId: invoiceId, processedAtMillis: clock,
                                     refundId: refundOf.map { "re_\($0)_\(clock)" }),
                    tenantId: user.tenantId, on: sut)
                if refundOf == nil { payments.append((id, invoiceId, amount, 0)) }
            }

            for step in 0..<Self.steps {
                let open = try await Self.listing(client, books).filter {
                    $0["kind"] as? String == "invoice" && ["issued", "partially_paid"].contains($0["status"] as? String)
                }.compactMap { $0["id"] as? String }
                switch random.below(10) {
                case 0, 1:
                    let lines = (0..<(1 + random.below(3))).map { _ in
                        #"{"description":"Item","quantity":"\#(1 + random.below(3))","unitPrice":\#(500 + random.below(50_000)),"taxRate":"\#(random.pick(["0", "7.5", "19"]))"}"#
                    }.joined(separator: ",")
                    let created = try await client.send(
                        .post, "/v1/accounting/invoices", json: InvoiceTests.invoice(customer: random.pick(customers), lines: lines), token: books.token)
                    try #require(created.status == 201, "\(created.body)")
                    invoices.append(try #require(created.body["id"] as? String))
                case 2, 3:
                    // A gateway payment naming an invoice of any state (or none known), for any amount near its open one.
                    let target = random.below(6) == 0 ? UUID().uuidString.lowercased() : invoices.isEmpty ? nil : random.pick(invoices)
                    let openMinor = try await target.asyncMap { StatementTests.amount(try await invoice($0)["open"]) } ?? 0
                    let amount = Int64(1 + random.below(Int(max(openMinor, 1_000)) * 3 / 2))
                    try await pay(target, amount, customer: random.below(3) == 0 ? nil : random.pick(customers))
                case 4:
                    let refundable = payments.indices.filter { payments[$0].amount > payments[$0].refunded }
                    guard !refundable.isEmpty else { continue }
                    let index = random.pick(refundable)
                    let amount = Int64(1 + random.below(Int(payments[index].amount - payments[index].refunded)))
                    try await pay(payments[index].invoiceId, amount, refundOf: payments[index].id)
                    payments[index].refunded += amount
                case 5:
                    guard let target = open.isEmpty ? nil : random.pick(open) else { continue }
                    let openMinor = StatementTests.amount(try await invoice(target)["open"])
                    let paid = try await client.send(
                        .post, "/v1/accounting/invoices/\(target)/payments",
                        json: #"{"amount":\#(1 + random.below(Int(openMinor))),"date":"2026-06-15","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
                    #expect(paid.status == 200, "\(paid.body)")
                case 6:
                    guard let target = open.isEmpty ? nil : random.pick(open) else { continue }
                    let credit = try await client.send(
                        .post, "/v1/accounting/invoices/\(target)/credit-notes",
                        json: #"{"issueDate":"2026-06-20","lines":[{"description":"Discount","quantity":"1","unitPrice":\#(1 + random.below(400)),"taxRate":"0"}]}"#,
                        token: books.token)
                    #expect([201, 422].contains(credit.status), "\(credit.body)")
                case 7:
                    guard let target = invoices.isEmpty ? nil : random.pick(invoices) else { continue }
                    let voided = try await client.send(.post, "/v1/accounting/invoices/\(target)/void", token: books.token)
                    #expect([200, 409].contains(voided.status), "\(voided.body)")
                case 8:
                    guard let target = open.isEmpty ? nil : random.pick(open) else { continue }
                    let applied = try await client.send(.post, "/v1/accounting/invoices/\(target)/apply-credit", token: books.token)
                    #expect(applied.status == 200 || applied.body["code"] as? String == "insufficient-credit", "\(applied.body)")
                default:
                    // Money in a currency the invoice is not in: no receivable can take it.
                    try await pay(invoices.isEmpty ? nil : random.pick(invoices), Int64(100 + random.below(5_000)), currency: "EUR")
                }
                try await sut.deliver()
                try await Self.check(client, books, a, invoices: invoices, customers: customers + [Self.unidentified], step: step, seed: seed)
            }
            #expect(payments.count > 5 && invoices.count > 5, "the sequence exercised too little")
        }
    }

    static let unidentified = "unidentified"

    /// Every invoice and credit note, page by page.
    static func listing(_ client: any TestClientProtocol, _ books: Books) async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var cursor: String?
        repeat {
            let page = try await client.send(.get, "/v1/accounting/invoices?limit=200\(cursor.map { "&cursor=\($0)" } ?? "")", token: books.token).body
            all += page["items"] as? [[String: Any]] ?? []
            cursor = page["nextCursor"] as? String
        } while cursor != nil
        return all
    }

    /// Receivables against the open invoices, customer deposits against the customers' credit, and the aging total.
    static func check(
        _ client: any TestClientProtocol, _ books: Books, _ a: [String: String], invoices: [String], customers: [String], step: Int, seed: UInt64
    ) async throws {
        var open: Int64 = 0
        let all = try await Self.listing(client, books)
        for body in all where body["kind"] as? String == "invoice" && ["issued", "partially_paid", "paid"].contains(body["status"] as? String) {
            open += StatementTests.amount(body["open"])
        }
        #expect(all.filter { $0["kind"] as? String == "invoice" }.count == invoices.count, "seed \(seed) step \(step): the listing lost an invoice")
        let receivables = try await books.balance(a["1100"]!)
        #expect(receivables == open, "seed \(seed) step \(step): receivables \(receivables), open invoices \(open)")
        var credit: Int64 = 0
        for customer in customers {
            let balances = try await client.send(.get, "/v1/accounting/customers/\(customer)/credit", token: books.token).body["balances"] as? [[String: Any]] ?? []
            credit += balances.filter { $0["currency"] as? String == "USD" }.reduce(Int64(0)) { $0 + StatementTests.amount($1["amount"]) }
        }
        let deposits = try await books.balance(a["2400"]!)
        #expect(deposits == credit, "seed \(seed) step \(step): customer deposits \(deposits), customers' credit \(credit)")
        let aging = try await client.send(.get, "/v1/accounting/statements/receivables-aging?asOf=2999-12-31", token: books.token)
        let total = ((aging.body["currencies"] as? [[String: Any]])?.first { $0["currency"] as? String == "USD" }?["totals"] as? [NSNumber])?
            .reduce(Int64(0)) { $0 + $1.int64Value } ?? 0
        #expect(total == open, "seed \(seed) step \(step): aging \(total), open invoices \(open)")
    }
}

extension Sequence {
    /// The elements for which the asynchronous `isIncluded` holds, in order.
    func asyncFilter(_ isIncluded: (Element) async throws -> Bool) async rethrows -> [Element] {
        var result: [Element] = []
        for element in self where try await isIncluded(element) { result.append(element) }
        return result
    }
}
