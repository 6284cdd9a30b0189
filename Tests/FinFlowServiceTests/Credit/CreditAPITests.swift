@testable import FinFlowCredit
import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@Suite("credit: decisions, registry, offers and behaviour over HTTP")
struct CreditAPITests {
    static func json(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The fixture's applicant `index` as a JSON object.
    static func applicant(_ index: Int) throws -> [String: Any] {
        let data = try JSONEncoder().encode(try BundledModel.fixture().cases[index].applicant)
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Rows of `table` in the credit database (a tenant's, where row-level security applies).
    static func count(_ sut: TestSystem, _ table: String, tenantId: String? = nil) async throws -> Int {
        struct Count: Decodable { let n: Int }
        let database = try #require(sut.system.databases["credit"])
        let query: @Sendable (any SQLDatabase) async throws -> Int = { db in
            try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first(decoding: Count.self)?.n ?? 0
        }
        if let tenantId { return try await database.tenantRead(tenantId: tenantId, query) }
        return try await database.read(query)
    }

    @Test("a decision: Python's probability, a score, a grade, reasons; stored, fetched, listed, replayed by id")
    func decide() async throws {
        let sut = try await TestSystem.make()
        let fixture = try BundledModel.fixture()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "lender")
            let id = UUID().uuidString.lowercased()
            let body = Self.json(["id": id, "customerId": "cust-1", "applicant": try Self.applicant(0)])
            let scored = try await client.send(.post, "/v1/credit/scores", json: body, token: user.accessToken)
            try #require(scored.status == 201, "\(scored.body)")
            let probability = try #require(scored.body["probabilityOfDefault"] as? Double)
            #expect(abs(probability - fixture.cases[0].probability) < 1e-6)
            #expect(scored.body["modelVersion"] as? String == "german-credit-xgb-1")
            #expect(scored.body["score"] as? Int == Int(fixture.cases[0].score.rounded()))
            #expect(["A", "B", "C", "D", "E"].contains(scored.body["grade"] as? String ?? ""))
            let factors = try #require(scored.body["factors"] as? [[String: Any]])
            let margin = try #require(scored.body["margin"] as? Double), base = try #require(scored.body["baseMargin"] as? Double)
            #expect(abs(factors.reduce(0) { $0 + ($1["contribution"] as? Double ?? 0) } - (margin - base)) < 1e-9)
            #expect(scored.body["behaviour"] != nil)

            // The same id and content: the same decision, nothing new; other content: refused.
            let again = try await client.send(.post, "/v1/credit/scores", json: body, token: user.accessToken)
            #expect(again.status == 200)
            #expect(again.body["createdAt"] as? String == scored.body["createdAt"] as? String)
            let other = try await client.send(
                .post, "/v1/credit/scores", json: Self.json(["id": id, "applicant": try Self.applicant(1)]), token: user.accessToken)
            #expect(other.status == 409)
            #expect(other.body["code"] as? String == "id-reused")

            let risky = try await client.send(
                .post, "/v1/credit/scores", json: Self.json(["applicant": try Self.applicant(fixture.cases.indices.max { fixture.cases[$0].probability < fixture.cases[$1].probability }!)]),
                token: user.accessToken)
            try #require(risky.status == 201)
            let reasons = try #require(risky.body["reasons"] as? [[String: Any]])
            #expect(!reasons.isEmpty && reasons.count <= 4)
            #expect((reasons.first?["code"] as? String)?.hasPrefix("R-") == true)
            #expect((reasons.first?["statement"] as? String)?.isEmpty == false)

            let fetched = try await client.send(.get, "/v1/credit/decisions/\(id)", token: user.accessToken)
            #expect(fetched.status == 200)
            #expect(fetched.body["probabilityOfDefault"] as? Double == probability)
            #expect((fetched.body["applicant"] as? [String: Any])?["purpose"] as? String == "radio_tv")
            let listed = try await client.send(.get, "/v1/credit/decisions?customerId=cust-1", token: user.accessToken)
            #expect((listed.body["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            #expect(try await Self.count(sut, "credit_decisions", tenantId: user.tenantId) == 2)

            // Another tenant sees none of it.
            let stranger = try await Fixtures.signUp(client, sut, tag: "stranger")
            #expect(try await client.send(.get, "/v1/credit/decisions/\(id)", token: stranger.accessToken).status == 404)
        }
    }

    @Test("bad applications get a 4xx naming each bad field and store nothing")
    func badApplications() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "lender")
            var applicant = try Self.applicant(0)
            applicant["checking_status"] = "overdrawn"
            applicant["age_years"] = 7
            applicant["telephone"] = true
            applicant.removeValue(forKey: "purpose")
            let bad = try await client.send(.post, "/v1/credit/scores", json: Self.json(["applicant": applicant]), token: user.accessToken)
            #expect(bad.status == 400)
            let fields = Set((bad.body["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(fields.isSuperset(of: ["applicant.checking_status", "applicant.age_years", "applicant.telephone", "applicant.purpose"]), "\(bad.body)")
            for body in ["{}", "[]", "{\"applicant\": 3}", "{\"applicant\": {}, \"id\": \"nope\"}", "not json",
                         Self.json(["applicant": try Self.applicant(0), "extra": 1])] {
                let response = try await client.send(.post, "/v1/credit/scores", json: body, token: user.accessToken)
                #expect((400..<500).contains(response.status), "\(body): \(response.status)")
            }
            #expect(try await client.send(.get, "/v1/credit/decisions/not-a-uuid", token: user.accessToken).status == 404)
            #expect(try await client.send(.get, "/v1/credit/decisions?limit=0", token: user.accessToken).status == 400)
            #expect(try await Self.count(sut, "credit_decisions", tenantId: user.tenantId) == 0)
        }
    }

    @Test("registry: an uploaded version scores in the shadow beside the active one, and stability is measured")
    func registry() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "lender")
            let listed = try await client.send(.get, "/v1/credit/models", token: user.accessToken)
            #expect(listed.body["activeVersion"] as? String == "german-credit-xgb-1")

            // The bundled files under another version name, as the training script would write a retrained model.
            var metadata = try JSONSerialization.jsonObject(with: try BundledModel.file("metadata.json")) as! [String: Any]
            var features = try JSONSerialization.jsonObject(with: try BundledModel.file("features.json")) as! [String: Any]
            let model = try JSONSerialization.jsonObject(with: try BundledModel.file("model.json"))
            metadata["version"] = "challenger-2"
            features["model_version"] = "challenger-2"
            let upload = Self.json(["model": model, "features": features, "metadata": metadata])
            let uploaded = try await client.send(.post, "/v1/credit/models", json: upload, token: user.accessToken)
            try #require(uploaded.status == 201, "\(uploaded.body)")
            #expect(try await client.send(.post, "/v1/credit/models", json: upload, token: user.accessToken).status == 409)
            metadata["version"] = "broken"
            features["model_version"] = "broken"
            let broken = try await client.send(
                .post, "/v1/credit/models", json: Self.json(["model": ["learner": [:]], "features": features, "metadata": metadata]),
                token: user.accessToken)
            #expect(broken.status == 400)
            #expect(broken.body["code"] as? String == "invalid-model")

            let assign = try await client.send(
                .put, "/v1/credit/models/assignment", json: Self.json(["activeVersion": "german-credit-xgb-1", "shadowVersion": "challenger-2"]),
                token: user.accessToken)
            try #require(assign.status == 200, "\(assign.body)")
            #expect(assign.body["shadowVersion"] as? String == "challenger-2")
            let unknown = try await client.send(
                .put, "/v1/credit/models/assignment", json: Self.json(["activeVersion": "nothing-1"]), token: user.accessToken)
            #expect(unknown.status == 400)

            for index in 0..<20 {
                let scored = try await client.send(
                    .post, "/v1/credit/scores", json: Self.json(["applicant": try Self.applicant(index)]), token: user.accessToken)
                try #require(scored.status == 201)
                let shadow = try #require(scored.body["shadow"] as? [String: Any])
                #expect(shadow["modelVersion"] as? String == "challenger-2")
                // The same trees: the shadow agrees with the decision it did not make.
                #expect(shadow["probabilityOfDefault"] as? Double == scored.body["probabilityOfDefault"] as? Double)
            }
            let stability = try await client.send(.get, "/v1/credit/models/german-credit-xgb-1/stability", token: user.accessToken)
            #expect(stability.body["decisions"] as? Int == 20)
            let bins = try #require(stability.body["bins"] as? [[String: Any]])
            #expect(bins.count == 10)
            #expect(abs(bins.reduce(0) { $0 + ($1["actualShare"] as? Double ?? 0) } - 1) < 1e-9)
            let psi = try #require(stability.body["psi"] as? Double)
            #expect(psi >= 0 && psi.isFinite)
            let shadowStability = try await client.send(.get, "/v1/credit/models/challenger-2/stability", token: user.accessToken)
            #expect(shadowStability.body["decisions"] as? Int == 20)
            #expect(shadowStability.body["psi"] as? Double == psi)

            // Another tenant cannot see or use the upload.
            let stranger = try await Fixtures.signUp(client, sut, tag: "stranger")
            #expect(try await client.send(.get, "/v1/credit/models/challenger-2", token: stranger.accessToken).status == 404)
        }
    }

    @Test("an offer: priced by grade, sized by income, a schedule per term; accepted once, announced for the ledger")
    func offers() async throws {
        let sut = try await TestSystem.make()
        let fixture = try BundledModel.fixture()
        let safest = fixture.cases.indices.min { fixture.cases[$0].probability < fixture.cases[$1].probability }!
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "lender")
            try await sut.deliver()
            let policy = try await client.send(.get, "/v1/credit/policy", token: user.accessToken)
            #expect(policy.body["baseRateBps"] as? Int == 500)
            let badPolicy = try await client.send(
                .put, "/v1/credit/policy",
                json: Self.json(["baseRateBps": -1, "gradeMarginsBps": ["Z": 1], "originationFeeBps": 100, "paymentToIncomeMaxBps": 1500,
                                 "debtToIncomeMaxBps": 4000, "termsMonths": [], "offerValidityHours": 0]),
                token: user.accessToken)
            #expect(badPolicy.status == 400)
            let badFields = Set((badPolicy.body["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(badFields == ["baseRateBps", "gradeMarginsBps.Z", "termsMonths", "offerValidityHours"])

            let decision = try await client.send(
                .post, "/v1/credit/scores", json: Self.json(["customerId": "cust-9", "applicant": try Self.applicant(safest)]), token: user.accessToken)
            let decisionId = try #require(decision.body["id"] as? String)
            let grade = try #require(decision.body["grade"] as? String)
            let offerId = UUID().uuidString.lowercased()
            let ask = Self.json(["id": offerId, "decisionId": decisionId, "amount": 1_500_000, "currency": "USD", "monthlyIncome": 400_000,
                                 "monthlyDebtPayments": 20_000])
            let offered = try await client.send(.post, "/v1/credit/offers", json: ask, token: user.accessToken)
            try #require(offered.status == 201, "\(offered.body)")
            #expect(offered.body["grade"] as? String == grade)
            let margins: [String: Int] = ["A": 200, "B": 400, "C": 700, "D": 1_100]
            #expect(offered.body["rateBps"] as? Int == 500 + (margins[grade] ?? 0))
            let options = try #require(offered.body["options"] as? [[String: Any]])
            #expect(options.count == 5)
            for option in options {
                let schedule = try #require(option["schedule"] as? [[String: Any]])
                #expect(schedule.count == option["termMonths"] as? Int)
                #expect(schedule.reduce(0) { $0 + ($1["principal"] as! Int) } == option["amount"] as? Int)
                #expect(schedule.reduce(0) { $0 + ($1["payment"] as! Int) } == option["totalRepayable"] as? Int)
                #expect((option["monthlyPayment"] as! Int) <= 60_000)
            }
            #expect(try await client.send(.post, "/v1/credit/offers", json: ask, token: user.accessToken).status == 200)

            let accepted = try await client.send(
                .post, "/v1/credit/offers/\(offerId)/accept", json: #"{"termMonths":36}"#, token: user.accessToken)
            try #require(accepted.status == 200, "\(accepted.body)")
            #expect(accepted.body["status"] as? String == "accepted")
            #expect(try await client.send(.post, "/v1/credit/offers/\(offerId)/accept", json: #"{"termMonths":36}"#, token: user.accessToken).status == 200)
            #expect(try await client.send(.post, "/v1/credit/offers/\(offerId)/accept", json: #"{"termMonths":12}"#, token: user.accessToken).status == 409)
            #expect(try await Self.count(sut, "outbox") == 1)

            // The ledger books the loan once: receivable against the cash paid out and the fee earned.
            try await sut.deliver()
            try await sut.deliver()
            struct Line: Decodable { let debit_minor: Int64; let credit_minor: Int64; let code: String }
            let accounting = try #require(sut.system.databases["accounting"])
            let lines = try await accounting.tenantRead(tenantId: user.tenantId) { db in
                try await db.raw("""
                    SELECT l.debit_minor, l.credit_minor, a.code FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
                    JOIN accounts a ON a.id = l.account_id WHERE e.source = 'loan' AND e.source_id = \(bind: offerId) ORDER BY a.code
                    """).all(decoding: Line.self)
            }
            let rejected = try await LedgerEventTests.outbox(JournalEntryRejected.self, sut)
            #expect(rejected.isEmpty, "\(rejected)")
            let chosen = try #require(options.first { $0["termMonths"] as? Int == 36 })
            let amount = Int64(chosen["amount"] as! Int), fee = Int64(chosen["fee"] as! Int)
            #expect(lines.map(\.code) == ["1020", "1400", "4300"])
            #expect(lines.first { $0.code == "1400" }?.debit_minor == amount)
            #expect(lines.first { $0.code == "1020" }?.credit_minor == amount - fee)
            #expect(lines.first { $0.code == "4300" }?.credit_minor == fee)
            let booked = try await client.send(.get, "/v1/credit/offers/\(offerId)", token: user.accessToken)
            #expect((booked.body["booking"] as? [String: Any])?["status"] as? String == "booked")
            let entryId = try #require((booked.body["booking"] as? [String: Any])?["entryId"] as? String)
            // An accountant reverses the loan's entry: the offer says so.
            let reversal = try await client.send(
                .post, "/v1/accounting/journal-entries/\(entryId)/reverse", json: Self.json(["date": CreditDesk.date(millis: sut.clock.nowMillis())]),
                token: user.accessToken)
            #expect(reversal.status == 201, "\(reversal.body)")
            try await sut.deliver()
            let reversed = try await client.send(.get, "/v1/credit/offers/\(offerId)", token: user.accessToken)
            #expect((reversed.body["booking"] as? [String: Any])?["status"] as? String == "reversed")

            // A loan the ledger cannot book (a currency its accounts do not keep) shows the refusal on the offer.
            let foreign = try await client.send(
                .post, "/v1/credit/offers", json: Self.json(["decisionId": decisionId, "amount": 200_000, "currency": "EUR", "monthlyIncome": 400_000]),
                token: user.accessToken)
            let foreignId = try #require(foreign.body["id"] as? String)
            #expect(try await client.send(.post, "/v1/credit/offers/\(foreignId)/accept", json: #"{"termMonths":12}"#, token: user.accessToken).status == 200)
            try await sut.deliver()
            let refused = try await client.send(.get, "/v1/credit/offers/\(foreignId)", token: user.accessToken)
            #expect((refused.body["booking"] as? [String: Any])?["status"] as? String == "refused")
            #expect(((refused.body["booking"] as? [String: Any])?["reason"] as? String)?.hasPrefix("currency-mismatch") == true)

            // An unknown term is named; an offer past its time cannot be accepted.
            let second = try await client.send(
                .post, "/v1/credit/offers", json: Self.json(["decisionId": decisionId, "amount": 100_000, "currency": "USD", "monthlyIncome": 400_000]),
                token: user.accessToken)
            let secondId = try #require(second.body["id"] as? String)
            #expect(try await client.send(.post, "/v1/credit/offers/\(secondId)/accept", json: #"{"termMonths":7}"#, token: user.accessToken).status == 400)
            sut.clock.advance(seconds: 8 * 86_400)
            let login = try await client.send(.post, "/v1/auth/login", json: Self.json(["email": user.email, "password": user.password]))
            let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String)
            #expect(try await client.send(.get, "/v1/credit/offers/\(secondId)", token: token).body["status"] as? String == "expired")
            let late = try await client.send(.post, "/v1/credit/offers/\(secondId)/accept", json: #"{"termMonths":12}"#, token: token)
            #expect(late.status == 409)
            #expect(late.body["code"] as? String == "offer-expired")
            #expect(try await Self.count(sut, "outbox") == 2)
        }
    }

    @Test("on-time ratio: invoices the ledger sees paid by their due date, and late")
    func onTime() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut)
            let accounts = try await books.accounts()
            func invoice(issued: String, paidOn: String) async throws {
                let line = #"{"description":"Widget","quantity":"1","unitPrice":10000,"taxRate":"0"}"#
                let created = try await client.send(
                    .post, "/v1/accounting/invoices", json: InvoiceTests.invoice(customer: "cust-5", issueDate: issued, terms: 30, lines: line),
                    token: books.token)
                let id = try #require(created.body["id"] as? String, "\(created.body)")
                // Paid in two parts: only the payment that settles it counts.
                for (amount, date) in [(4_000, issued), (6_000, paidOn)] {
                    let paid = try await client.send(
                        .post, "/v1/accounting/invoices/\(id)/payments",
                        json: #"{"amount":\#(amount),"date":"\#(date)","cashAccountId":"\#(accounts["1020"]!)"}"#, token: books.token)
                    #expect(paid.status == 200, "\(paid.body)")
                }
            }
            try await invoice(issued: "2026-03-01", paidOn: "2026-03-20")
            try await invoice(issued: "2026-04-01", paidOn: "2026-05-01")
            try await invoice(issued: "2026-05-01", paidOn: "2026-06-15")
            try await sut.deliver()
            try await sut.deliver()
            let profile = try await client.send(.get, "/v1/credit/customers/cust-5/behaviour", token: books.token)
            let usd = try #require((profile.body["currencies"] as? [[String: Any]])?.first, "\(profile.body)")
            #expect(usd["invoicesSettled"] as? Int == 3)
            // Due 2026-03-31, 2026-05-01 and 2026-05-31: the first two on time (the second on its due date), the third late.
            #expect(abs((usd["onTimeRatio"] as? Double ?? 0) - 2.0 / 3) < 1e-9)
        }
    }

    @Test("behaviour: payments and transactions of a customer, each event counted once, rejected and reversed ones taken back out")
    func behaviour() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut, tag: "lender")
            func publish<Contract: EventContract>(_ payload: Contract, id: String = UUID().uuidString) async throws {
                try await LedgerEventTests.publish(payload, tenantId: user.tenantId, id: id, on: sut)
            }
            let january = Int64(Date(timeIntervalSince1970: 1_767_225_600).timeIntervalSince1970 * 1000)  // 2026-01-01
            func payment(_ status: String, _ amount: Int64, at millis: Int64) -> PaymentProcessed {
                PaymentProcessed(
                    paymentId: UUID().uuidString, tenantId: user.tenantId, status: status, amountMinor: amount, currency: "EUR", feeMinor: nil,
                    gateway: "stripe", gatewayReference: nil, customerId: "cust-7", invoiceId: nil, processedAtMillis: millis)
            }
            let twice = UUID().uuidString
            try await publish(payment("succeeded", 10_000, at: january), id: twice)
            try await publish(payment("succeeded", 10_000, at: january), id: twice)
            try await publish(payment("failed", 5_000, at: january + 40 * 86_400_000))
            try await publish(payment("succeeded", 20_000, at: january + 40 * 86_400_000))
            try await publish(payment("refunded", 2_000, at: january + 70 * 86_400_000))
            // An amount no payment can have is not counted (and cannot overflow an aggregate).
            try await publish(payment("succeeded", .max, at: january))
            func created(_ id: String, _ date: String, _ kind: String, _ amount: Int64) -> TransactionCreated {
                TransactionCreated(
                    transactionId: id, tenantId: user.tenantId, kind: kind, amountMinor: amount, currency: "EUR", valueDate: date,
                    sourceAccountId: UUID().uuidString, destinationAccountId: UUID().uuidString, counterparty: "cust-7")
            }
            func changed(_ id: String, to status: String, from previous: String) -> TransactionStatusChanged {
                TransactionStatusChanged(transactionId: id, tenantId: user.tenantId, status: status, previousStatus: previous, changedAtMillis: january)
            }
            var kept: [String] = []
            for (date, kind, amount) in [("2026-01-10", "receipt", Int64(50_000)), ("2026-02-10", "receipt", 30_000), ("2026-04-10", "payment", 20_000)] {
                kept.append(UUID().uuidString)
                try await publish(created(kept[kept.count - 1], date, kind, amount))
            }
            // Posted stays counted; rejected (by the ledger, or declined by compliance) and reversed are taken back out,
            // with the month they alone made; a rejection that arrives before its transaction keeps it from counting.
            try await publish(changed(kept[0], to: "posted", from: "pending"))
            let rejected = UUID().uuidString, reversed = UUID().uuidString, early = UUID().uuidString
            try await publish(created(rejected, "2026-06-10", "receipt", 90_000))
            try await publish(changed(rejected, to: "rejected", from: "pending"))
            try await publish(created(reversed, "2026-02-20", "payment", 7_000))
            try await publish(changed(reversed, to: "posted", from: "pending"))
            try await publish(changed(reversed, to: "reversed", from: "reversal-requested"))
            try await publish(changed(early, to: "rejected", from: "held"))
            try await publish(created(early, "2026-01-15", "receipt", 11_000))
            let profile = try await client.send(.get, "/v1/credit/customers/cust-7/behaviour", token: user.accessToken)
            try #require(profile.status == 200)
            let euro = try #require((profile.body["currencies"] as? [[String: Any]])?.first)
            #expect(euro["paymentsSucceeded"] as? Int == 2)
            #expect(euro["paymentsFailed"] as? Int == 1)
            #expect(euro["paymentsRefunded"] as? Int == 1)
            #expect(euro["paidAmount"] as? Int == 28_000)
            #expect(abs((euro["paymentSuccessRatio"] as? Double ?? 0) - 2.0 / 3) < 1e-9)
            #expect(euro["onTimeRatio"] == nil, "no invoice settled yet")
            #expect(euro["transactions"] as? Int == 3)
            #expect(euro["months"] as? Int == 4, "January to April; June had only the rejected transaction")
            // Net flows by month Jan..Apr: 500, 300, 0, −200 (in major units); balances 500, 800, 800, 600: mean 675.00.
            #expect(euro["averageBalance"] as? Int == 67_500)
            #expect((euro["cashFlowVolatility"] as? Double ?? 0) > 0)

            let scored = try await client.send(
                .post, "/v1/credit/scores", json: Self.json(["customerId": "cust-7", "applicant": try Self.applicant(0)]), token: user.accessToken)
            let shown = try #require((scored.body["behaviour"] as? [String: Any])?["currencies"] as? [[String: Any]])
            #expect(shown.first?["paymentsSucceeded"] as? Int == 2)
        }
    }
}
