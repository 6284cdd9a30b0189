import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

@Suite("transactions: the validation pipeline")
struct TransactionValidationTests {
    /// A refusal: its status and code, and that it changed nothing.
    static func expectRefused(
        _ desk: Desk, _ json: String, status: Int, code: String, field: String? = nil
    ) async throws {
        let before = try await desk.list().count
        let response = try await desk.create(json)
        #expect(response.status == status, "\(code): \(response.body)")
        #expect(code.isEmpty || response.body["code"] as? String == code, "expected \(code): \(response.body)")
        if let field {
            let fields = (response.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
            #expect(fields.contains(field), "\(code): fields \(fields)")
        }
        #expect(try await desk.list().count == before, "\(code) changed something")
    }

    @Test("each step refuses with its own code and changes nothing")
    func everyStep() async throws {
        let sut = try await TestSystem.make { $0.transactionsBlockedCounterparties = ["Acme Shell Co"] }
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            // 1. Fields.
            try await Self.expectRefused(desk, desk.body(-5), status: 400, code: "validation-failed", field: "amount")
            try await Self.expectRefused(desk, desk.body(5, currency: "XYZ"), status: 400, code: "validation-failed", field: "currency")
            try await Self.expectRefused(desk, desk.body(5, date: "2026-02-30"), status: 400, code: "validation-failed", field: "valueDate")
            try await Self.expectRefused(desk, desk.body(5, to: "1020"), status: 400, code: "validation-failed", field: "destinationAccountId")
            try await Self.expectRefused(desk, desk.body(5, kind: "gift"), status: 400, code: "malformed-request")
            try await Self.expectRefused(desk, desk.body(5, country: "Iran"), status: 400, code: "validation-failed", field: "counterparty.country")
            try await Self.expectRefused(desk, #"{"kind":"expense"}"#, status: 400, code: "")
            try await Self.expectRefused(desk, "not json", status: 400, code: "")
            // 2. The tenant's amount limit.
            try await desk.setLimits { $0["transactionAmountMax"] = ["USD": 10_000] }
            try await Self.expectRefused(desk, desk.body(10_001), status: 422, code: "amount-above-limit", field: "amount")
            #expect(try await desk.create(desk.body(10_000, counterparty: "Big Spend")).status == 201)
            // 3. Currencies: allowed, and the accounts'.
            try await Self.expectRefused(desk, desk.body(5, currency: "EUR"), status: 400, code: "currency-mismatch", field: "sourceAccountId")
            try await desk.setLimits { $0["allowedCurrencies"] = ["EUR"] }
            try await Self.expectRefused(desk, desk.body(5), status: 422, code: "currency-not-allowed", field: "currency")
            try await desk.setLimits { _ in }
            // 4. Accounts.
            try await Self.expectRefused(
                desk, desk.body(5, to: UUID().uuidString.lowercased()), status: 400, code: "unknown-account", field: "destinationAccountId")
            // 5. Duplicates: same amount, accounts, counterparty and reference within three days.
            #expect(try await desk.create(desk.body(2_500, date: "2026-03-03", counterparty: "Grid Co", reference: "B-1")).status == 201)
            try await Self.expectRefused(
                desk, desk.body(2_500, date: "2026-03-05", counterparty: "GRID co.", reference: "b-1"), status: 409, code: "duplicate-transaction")
            #expect(try await desk.create(desk.body(2_500, date: "2026-03-07", counterparty: "Grid Co", reference: "B-1")).status == 201)
            #expect(try await desk.create(desk.body(2_500, date: "2026-03-03", counterparty: "Grid Co", reference: "B-2")).status == 201)
            let allowed = try await desk.create(desk.body(2_500, date: "2026-03-03", counterparty: "Grid Co", reference: "B-1", extra: ["allowDuplicate": true]))
            #expect(allowed.status == 201)
            // 6. Velocity, per account and for the tenant.
            try await desk.setLimits {
                $0["accountVelocity"] = ["windowSeconds": 60, "countMax": 5]
                $0["tenantVelocity"] = ["windowSeconds": 60, "countMax": 100, "amountMax": ["USD": 30_000]]
            }
            try await Self.expectRefused(desk, desk.body(5, counterparty: "Seventh"), status: 422, code: "account-velocity-exceeded", field: "sourceAccountId")
            #expect(try await desk.create(desk.body(5, from: "1010", counterparty: "Other account")).status == 201)
            try await Self.expectRefused(desk, desk.body(20_000, from: "1010", counterparty: "Large"), status: 422, code: "tenant-velocity-exceeded")
            // Velocity is counted in minute buckets: a 60 s window lets go of a transaction within two minutes.
            sut.clock.advance(seconds: 121)
            #expect(try await desk.create(desk.body(5, counterparty: "An hour later")).status == 201)
            // 7. Screening lists from configuration.
            try await Self.expectRefused(desk, desk.body(5, from: "1010", counterparty: "Tehran Trading", country: "IR"), status: 422, code: "sanctioned-country",
                                         field: "counterparty.country")
            try await Self.expectRefused(desk, desk.body(5, from: "1010", counterparty: "ACME shell co."), status: 422, code: "blocked-counterparty",
                                         field: "counterparty.name")
            #expect(try await desk.create(desk.body(5, from: "1010", counterparty: "Acme Shell Company", country: "DE")).status == 201)
        }
    }

    @Test("client ids and Idempotency-Key: a replay answers the stored transaction, a reuse with other content is 409")
    func idempotency() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let id = UUID().uuidString.lowercased()
            let first = try await desk.create(desk.body(1_200, id: id))
            #expect(first.status == 201 && first.body["id"] as? String == id)
            let replay = try await desk.create(desk.body(1_200, id: id))
            #expect(replay.status == 200 && replay.body["id"] as? String == id)
            let reuse = try await desk.create(desk.body(1_300, id: id))
            #expect(reuse.status == 409 && reuse.body["code"] as? String == "id-reused")
            let keyed = try await desk.create(desk.body(900, counterparty: "Keyed"), headers: [.idempotencyKey: "tx-key-1"])
            let keyedAgain = try await desk.create(desk.body(900, counterparty: "Keyed"), headers: [.idempotencyKey: "tx-key-1"])
            #expect(keyed.status == 201 && keyedAgain.status == 201)
            #expect(keyedAgain.headers[.idempotencyReplayed] == "true")
            #expect(keyed.body["id"] as? String == keyedAgain.body["id"] as? String)
            #expect(try await desk.list().count == 2)
            try await sut.deliver()
            #expect(try await desk.balance("6200") == 2_100)
        }
    }

    @Test("a batch is all or nothing, naming the refused item; a good one creates every transaction")
    func batch() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            func batch(_ items: [String]) -> String { #"{"transactions":[\#(items.joined(separator: ","))]}"# }
            let bad = try await client.send(.post, "/v1/transactions/batch", json: batch([desk.body(100, counterparty: "A"), desk.body(0, counterparty: "B")]), token: desk.token)
            #expect(bad.status == 400 && (bad.body["errors"] as? [[String: Any]])?.first?["field"] as? String == "transactions[1].amount")
            let twins = try await client.send(.post, "/v1/transactions/batch", json: batch([desk.body(100, counterparty: "A"), desk.body(100, counterparty: "A")]), token: desk.token)
            #expect(twins.status == 409 && twins.body["code"] as? String == "duplicate-transaction", "\(twins.body)")
            let unknown = try await client.send(
                .post, "/v1/transactions/batch", json: batch([desk.body(100, counterparty: "A"), desk.body(100, to: UUID().uuidString, counterparty: "C")]),
                token: desk.token)
            #expect(unknown.status == 400 && (unknown.body["errors"] as? [[String: Any]])?.first?["field"] as? String == "transactions[1].destinationAccountId")
            #expect(try await desk.list().isEmpty)
            let tooMany = try await client.send(.post, "/v1/transactions/batch", json: batch(Array(repeating: desk.body(1), count: 501)), token: desk.token)
            #expect(tooMany.status == 400)
            let items = (0..<50).map { desk.body(Int64(100 + $0), counterparty: "Vendor \($0)") }
            let good = try await client.send(.post, "/v1/transactions/batch", json: batch(items), token: desk.token)
            #expect(good.status == 201, "\(good.body)")
            #expect((good.body["items"] as? [[String: Any]])?.count == 50)
            try await sut.deliver()
            #expect(try await desk.list("status=posted").count == 50)
            #expect(try await desk.balance("6200") == (0..<50).reduce(0) { $0 + 100 + Int64($1) })
        }
    }

    @Test("search filters and cursor paging; other tenants see nothing and cannot name this tenant's accounts")
    func searchAndIsolation() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            for (index, (amount, party, date)) in [(500, "Grid Co", "2026-03-01"), (1_500, "Rent Ltd", "2026-03-10"), (2_500, "Grid Co", "2026-04-01"),
                                                    (3_500, "Paper & Ink", "2026-04-15"), (4_500, "Rent Ltd", "2026-05-01")].enumerated() {
                let response = try await desk.create(desk.body(Int64(amount), to: index % 2 == 0 ? "6200" : "6100", date: date, counterparty: party,
                                                                extra: ["category": index < 2 ? "utilities" : "premises", "description": "item \(index)"]))
                #expect(response.status == 201, "\(response.body)")
            }
            #expect(try await desk.list().count == 5)
            #expect(try await desk.list("counterparty=grid%20CO").count == 2)
            #expect(try await desk.list("amountMin=1500&amountMax=3500").count == 3)
            #expect(try await desk.list("from=2026-03-05&to=2026-04-30").count == 3)
            #expect(try await desk.list("category=utilities").count == 2)
            #expect(try await desk.list("accountId=\(desk.accounts["6100"]!)").count == 2)
            #expect(try await desk.list("q=ink").count == 1)
            #expect(try await desk.list("status=pending&kind=expense&currency=usd").count == 5)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.send(.get, "/v1/transactions?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: desk.token)
                seen += (page.body["items"] as? [[String: Any]] ?? []).map { $0["id"] as! String }
                cursor = page.body["nextCursor"] as? String
            } while cursor != nil
            #expect(seen.count == 5 && Set(seen).count == 5 && seen == seen.sorted(by: >))
            for bad in ["from=yesterday", "amountMin=5&amountMax=1", "accountId=nope", "cursor=zzz", "limit=0", "status=lost"] {
                #expect(try await client.send(.get, "/v1/transactions?\(bad)", token: desk.token).status == 400, "\(bad)")
            }
            let other = try await Desk.open(client, sut, tag: "other")
            #expect(try await other.list().isEmpty)
            #expect(try await client.send(.get, "/v1/transactions/\(seen[0])", token: other.token).status == 404)
            let borrowed = try await other.create(desk.body(100))
            #expect(borrowed.status == 400 && borrowed.body["code"] as? String == "unknown-account")
            let viewer = try await Fixtures.member(of: desk.user, roles: ["viewer"], client, sut, tag: "viewer")
            #expect(try await client.send(.post, "/v1/transactions", json: desk.body(100), token: viewer).status == 403)
            #expect(try await client.send(.get, "/v1/transactions", token: viewer).status == 200)
        }
    }

    @Test("requests racing each other still see each other: velocity and duplicates hold across concurrent creations")
    func concurrent() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            try await desk.setLimits { $0["accountVelocity"] = ["windowSeconds": 3_600, "countMax": 25] }
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let response = try await desk.create(desk.body(Int64(100 + index), counterparty: "Racer \(index)"))
                        return (response.status, response.body["code"] as? String)
                    }
                }
                return try await group.reduce(into: [(Int, String?)]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0.0 == 201 }.count == 25)
            #expect(statuses.filter { $0.1 == "account-velocity-exceeded" }.count == 15)
            let twins = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await desk.create(desk.body(7_777, from: "1010", counterparty: "Twin", reference: "T-1")).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(twins.sorted() == [201] + Array(repeating: 409, count: 9))
            #expect(try await desk.list().count == 26)
        }
    }

    @Test("limits are validated, and a bad setting names its field")
    func limits() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let desk = try await Desk.open(client, sut)
            let defaults = try await client.send(.get, "/v1/transactions/limits", token: desk.token)
            #expect(defaults.status == 200 && defaults.body["duplicateWindowDays"] as? Int == 3)
            let bad = #"{"accountVelocity":{"windowSeconds":5,"countMax":0},"tenantVelocity":{"windowSeconds":60,"countMax":1,"amountMax":{"usd":-1}},"duplicateWindowDays":9999,"transactionAmountMax":{"ZZZ":5}}"#
            let refused = try await client.send(.put, "/v1/transactions/limits", json: bad, token: desk.token)
            #expect(refused.status == 400)
            let fields = Set((refused.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? [])
            #expect(fields.isSuperset(of: ["accountVelocity.windowSeconds", "accountVelocity.countMax", "duplicateWindowDays", "transactionAmountMax.ZZZ", "tenantVelocity.amountMax.usd"]), "\(fields)")
            #expect(try await client.send(.get, "/v1/transactions/limits", token: desk.token).body["duplicateWindowDays"] as? Int == 3)
        }
    }
}
