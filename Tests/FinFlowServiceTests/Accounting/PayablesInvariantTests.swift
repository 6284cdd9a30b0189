import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

/// Seeded random sequences of bills: entered as drafts or posted, some above the approval threshold and approved by a
/// second person, paid in parts, credited by the vendor, voided. After every step the payables control account equals
/// the open bills, input tax equals the recoverable tax of what is in the books, and the aging report agrees.
@Suite("accounting: payables agree with the open bills")
struct PayablesInvariantTests {
    static let steps = 70

    @Test("under random sequences, payables equal open bills and input tax equals the recoverable tax posted", arguments: [UInt64(11), 2_027])
    func invariant(seed: UInt64) async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let owner = try await Fixtures.signUp(client, sut, tag: "payables-\(seed)")
            try await sut.deliver()
            let books = Books(client: client, token: owner.accessToken)
            let a = try await books.accounts()
            #expect(try await client.send(.patch, "/v1/accounting/settings", json: #"{"approvalThreshold":60000}"#, token: books.token).status == 200)
            let approver = try await Fixtures.member(of: owner, roles: ["approver"], client, sut, tag: "payables-approver-\(seed)")
            var random = Mutator(seed: seed)
            let vendors = ["paperco", "landlord", "telco"]
            let expenses = ["6100", "6200", "6300", "5000"].map { a[$0]! }
            var bills: [String] = []
            func bill(_ id: String) async throws -> [String: Any] { try await client.send(.get, "/v1/accounting/bills/\(id)", token: books.token).body }
            func lines() -> String {
                (0..<(1 + random.below(3))).map { _ in
                    BillTests.line(quantity: "\(1 + random.below(3))", price: Int64(500 + random.below(30_000)), rate: random.pick(["0", "7.5", "19"]),
                                   recoverable: random.pick([nil, true, false]), account: random.pick(expenses))
                }.joined(separator: ",")
            }

            for step in 0..<Self.steps {
                let open = try await Self.listing(client, books).filter { ["open", "partially_paid"].contains($0["status"] as? String) }
                    .compactMap { $0["id"] as? String }
                switch random.below(9) {
                case 0, 1, 2:
                    let created = try await client.send(
                        .post, "/v1/accounting/bills",
                        json: BillTests.bill(vendor: random.pick(vendors), reference: random.below(4) == 0 ? "R-\(random.below(5))" : nil,
                                             billDate: "2026-0\(5 + random.below(3))-1\(random.below(9))", post: random.below(4) != 0, lines: lines()),
                        token: books.token)
                    #expect(created.status == 201 || created.body["code"] as? String == "duplicate-bill", "\(created.body)")
                    if let id = created.body["id"] as? String { bills.append(id) }
                case 3:
                    guard let target = bills.isEmpty ? nil : random.pick(bills) else { continue }
                    let posted = try await client.send(.post, "/v1/accounting/bills/\(target)/post", token: books.token)
                    #expect([200, 409].contains(posted.status), "\(posted.body)")
                case 4:
                    guard let target = bills.isEmpty ? nil : random.pick(bills) else { continue }
                    let approved = try await client.send(.post, "/v1/accounting/bills/\(target)/approve", token: approver)
                    #expect([200, 409].contains(approved.status), "\(approved.body)")
                case 5, 6:
                    guard let target = open.isEmpty ? nil : random.pick(open) else { continue }
                    let openMinor = StatementTests.amount(try await bill(target)["open"])
                    let amount = random.below(5) == 0 ? Int(openMinor) + 1 : 1 + random.below(Int(openMinor))
                    let paid = try await client.send(
                        .post, "/v1/accounting/bills/\(target)/payments",
                        json: #"{"amount":\#(amount),"date":"2026-07-15","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
                    #expect(paid.status == 200 || paid.body["code"] as? String == "overpayment", "\(paid.body)")
                case 7:
                    guard let target = open.isEmpty ? nil : random.pick(open) else { continue }
                    let credit = try await client.send(
                        .post, "/v1/accounting/bills/\(target)/credit-notes",
                        json: #"{"billDate":"2026-07-20","lines":[\#(BillTests.line(price: Int64(1 + random.below(2_000)), rate: random.pick(["0", "19"]), account: random.pick(expenses)))]}"#,
                        token: books.token)
                    #expect([201, 422].contains(credit.status), "\(credit.body)")
                default:
                    guard let target = bills.isEmpty ? nil : random.pick(bills) else { continue }
                    let voided = try await client.send(.post, "/v1/accounting/bills/\(target)/void", token: books.token)
                    #expect([200, 409].contains(voided.status), "\(voided.body)")
                }
                try await Self.check(client, books, a, bills: bills, step: step, seed: seed)
            }
            #expect(bills.count > 10, "the sequence exercised too little")
            _ = try await books.trialBalance()
        }
    }

    /// Every bill and vendor credit note, page by page.
    static func listing(_ client: any TestClientProtocol, _ books: Books) async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var cursor: String?
        repeat {
            let page = try await client.send(.get, "/v1/accounting/bills?limit=200\(cursor.map { "&cursor=\($0)" } ?? "")", token: books.token).body
            all += page["items"] as? [[String: Any]] ?? []
            cursor = page["nextCursor"] as? String
        } while cursor != nil
        return all
    }

    /// Payables against the open bills, input tax against the recoverable tax in the books, and the aging total.
    static func check(_ client: any TestClientProtocol, _ books: Books, _ a: [String: String], bills: [String], step: Int, seed: UInt64) async throws {
        let all = try await Self.listing(client, books)
        var open: Int64 = 0, inputTax: Int64 = 0
        for bill in all where ["open", "partially_paid", "paid"].contains(bill["status"] as? String) {
            open += StatementTests.amount(bill["open"])
            inputTax += StatementTests.amount(bill["recoverableTax"])
        }
        for note in all where note["kind"] as? String == "vendor_credit" { inputTax -= StatementTests.amount(note["recoverableTax"]) }
        #expect(all.filter { $0["kind"] as? String == "bill" }.count == bills.count, "seed \(seed) step \(step): the listing lost a bill")
        let payables = try await books.balance(a["2010"]!)
        #expect(payables == open, "seed \(seed) step \(step): payables \(payables), open bills \(open)")
        let tax = try await books.balance(a["1350"]!)
        #expect(tax == inputTax, "seed \(seed) step \(step): input tax \(tax), recoverable tax of posted bills \(inputTax)")
        let aging = try await client.send(.get, "/v1/accounting/statements/payables-aging?asOf=2999-12-31", token: books.token)
        let total = ((aging.body["currencies"] as? [[String: Any]])?.first { $0["currency"] as? String == "USD" }?["totals"] as? [NSNumber])?
            .reduce(Int64(0)) { $0 + $1.int64Value } ?? 0
        #expect(total == open, "seed \(seed) step \(step): aging \(total), open bills \(open)")
    }
}
