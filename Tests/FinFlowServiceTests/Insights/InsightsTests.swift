import FinFlowCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// The insights service: its read model follows the ledger's movements and documents, series are summed per period,
/// and a forecast backtests every method, keeps the best with conformal intervals, and is stored and answered as
/// JSON, CSV and SVG.
@Suite("insights: the books as series, forecasts chosen by backtest, scheduled receipts and payments")
struct InsightsTests {
    /// Three years of monthly cash sales (trend and a season) and rent, ending with the last complete month.
    struct History {
        let months: [CalendarDay]
        let revenue: [Int64]
        let expenses: [Int64]

        init(today: CalendarDay) {
            let season: [Int64] = [-8_000, -6_000, -2_000, 0, 3_000, 6_000, 9_000, 7_000, 3_000, 0, -4_000, -8_000]
            self.months = (0..<36).map { today.startOfMonth.addingMonths($0 - 36) }
            self.revenue = self.months.enumerated().map { i, month in 100_000 + 2_000 * Int64(i) + season[month.month - 1] }
            self.expenses = (0..<36).map { 60_000 + 500 * Int64($0) }
        }

        /// What a month of the same pattern would hold `h` months after the last one.
        func revenueAhead(_ h: Int) -> Int64 {
            let season: [Int64] = [-8_000, -6_000, -2_000, 0, 3_000, 6_000, 9_000, 7_000, 3_000, 0, -4_000, -8_000]
            let month = self.months[35].addingMonths(h + 1)
            return 100_000 + 2_000 * Int64(36 + h) + season[month.month - 1]
        }
    }

    /// Posts the history: a cash sale and the rent on the 15th of each month.
    static func post(_ history: History, books: Books) async throws -> [String: String] {
        let a = try await books.accounts()
        for (i, month) in history.months.enumerated() {
            let date = month.addingDays(14).description
            let sale = try await books.post(Books.entry(date: date, description: "Sales", lines: [(a["1020"]!, "debit", history.revenue[i]), (a["4000"]!, "credit", history.revenue[i])]))
            try #require(sale.status == 201, "\(sale.body)")
            let rent = try await books.post(Books.entry(date: date, description: "Rent", lines: [(a["6100"]!, "debit", history.expenses[i]), (a["1020"]!, "credit", history.expenses[i])]))
            try #require(rent.status == 201, "\(rent.body)")
        }
        return a
    }

    /// Issues an invoice of one line to `customer`, answering its id.
    static func issueInvoice(
        _ client: any TestClientProtocol, books: Books, customer: String, issue: CalendarDay, due: CalendarDay, amount: Int64
    ) async throws -> String {
        let response = try await client.send(.post, "/v1/accounting/invoices", json: """
            {"customerId":"\(customer)","customerName":"Customer","issueDate":"\(issue)","dueDate":"\(due)","issue":true,
             "lines":[{"description":"Work","quantity":"1","unitPrice":\(amount)}]}
            """, token: books.token)
        try #require(response.status == 201, "\(response.body)")
        return try #require(response.body["id"] as? String)
    }

    /// The raw body of a GET, with its content type.
    static func raw(_ client: any TestClientProtocol, _ path: String, token: String) async throws -> (status: Int, text: String, type: String?) {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        return try await client.execute(uri: path, method: .get, headers: headers, body: nil) { response in
            (Int(response.status.code), String(buffer: response.body), response.headers[.contentType])
        }
    }

    static func values(_ body: [String: Any], _ key: String = "points", field: String = "value") -> [Int64] {
        ((body[key] as? [[String: Any]]) ?? []).map { StatementTests.amount($0[field]) }
    }

    @Test("series follow the ledger: net cash flow, cash balance, revenue, one account's expenses, per month, week and day")
    func series() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "insights-series")
            let history = History(today: CalendarDay(instant: sut.clock.now()))
            let a = try await Self.post(history, books: books)
            let before = try await client.send(.get, "/v1/insights/series?metric=revenue&interval=month", token: books.token)
            #expect(before.status == 409 && before.body["code"] as? String == "no-books", "nothing has reached the service yet: \(before.body)")
            try await sut.deliver()

            let revenue = try await client.send(.get, "/v1/insights/series?metric=revenue&interval=month", token: books.token)
            try #require(revenue.status == 200, "\(revenue.body)")
            #expect(revenue.body["currency"] as? String == "USD")
            #expect(Self.values(revenue.body) == history.revenue)
            #expect(((revenue.body["points"] as? [[String: Any]]) ?? []).first?["period"] as? String == history.months[0].description)
            let net = try await client.send(.get, "/v1/insights/series?metric=net-cash-flow&interval=month", token: books.token)
            #expect(Self.values(net.body) == zip(history.revenue, history.expenses).map { $0 - $1 })
            let balance = try await client.send(.get, "/v1/insights/series?metric=cash-balance&interval=month", token: books.token)
            var running: Int64 = 0
            #expect(Self.values(balance.body) == zip(history.revenue, history.expenses).map { running += $0 - $1; return running })
            let rent = try await client.send(.get, "/v1/insights/series?metric=expenses&interval=month&accountId=\(a["6100"]!)", token: books.token)
            #expect(Self.values(rent.body) == history.expenses)
            let none = try await client.send(.get, "/v1/insights/series?metric=expenses&interval=month&accountId=\(a["6000"]!)", token: books.token)
            #expect(none.status == 404, "an account the books never moved is unknown to the read model: \(none.body)")

            // Weeks and days hold the same money, in more periods; a window keeps what overlaps it.
            let weeks = try await client.send(.get, "/v1/insights/series?metric=revenue&interval=week", token: books.token)
            #expect(Self.values(weeks.body).reduce(0, +) == history.revenue.reduce(0, +))
            #expect(((weeks.body["points"] as? [[String: Any]]) ?? []).allSatisfy { point in
                CalendarDay(point["period"] as? String ?? "").map { ($0.dayNumber + 3) % 7 == 0 } ?? false
            }, "weeks start on Monday")
            let days = try await client.send(
                .get, "/v1/insights/series?metric=revenue&interval=day&from=\(history.months[35])&to=\(history.months[35].endOfMonth)", token: books.token)
            let daily = Self.values(days.body)
            #expect(daily.count == history.months[35].endOfMonth.day && daily.filter { $0 != 0 } == [history.revenue[35]])
            let csv = try await Self.raw(client, "/v1/insights/series?metric=revenue&interval=month&format=csv", token: books.token)
            #expect(csv.status == 200 && csv.text.hasPrefix("period,value\n\(history.months[0]),\(history.revenue[0])\n"), "\(csv.text.prefix(80))")

            // A reversal takes its movement back out.
            let posted = try await books.post(Books.entry(
                date: history.months[35].addingDays(20).description, lines: [(a["1020"]!, "debit", 5_000), (a["4000"]!, "credit", 5_000)]))
            let entryId = try #require(posted.body["id"] as? String)
            try await sut.deliver()
            let raised = try await client.send(.get, "/v1/insights/series?metric=revenue&interval=month", token: books.token)
            #expect(Self.values(raised.body).last == history.revenue[35] + 5_000)
            let reversed = try await client.send(.post, "/v1/accounting/journal-entries/\(entryId)/reverse", json: #"{"date":"\#(history.months[35].addingDays(21))"}"#, token: books.token)
            try #require(reversed.status == 201, "\(reversed.body)")
            try await sut.deliver()
            let back = try await client.send(.get, "/v1/insights/series?metric=revenue&interval=month", token: books.token)
            #expect(Self.values(back.body) == history.revenue)
        }
    }

    @Test("a forecast backtests every method, keeps the one with the smallest MASE, and is stored and answered as JSON, CSV and SVG")
    func forecast() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "insights-forecast")
            let history = History(today: CalendarDay(instant: sut.clock.now()))
            _ = try await Self.post(history, books: books)
            try await sut.deliver()
            let id = UUID().uuidString.lowercased()
            let body = #"{"id":"\#(id)","metric":"revenue","interval":"month","horizon":6}"#
            let made = try await client.send(.post, "/v1/insights/forecasts", json: body, token: books.token)
            try #require(made.status == 201, "\(made.body)")
            let forecast = made.body
            #expect(forecast["id"] as? String == id && forecast["levels"] as? [Int] == [80, 95] && forecast["seasonalPeriod"] as? Int == 12)
            let backtests = try #require(forecast["backtests"] as? [[String: Any]])
            #expect(Set(backtests.compactMap { $0["method"] as? String }) == ["auto-ets", "auto-theta", "theta", "ensemble", "seasonal-naive", "drift"])
            #expect(backtests.allSatisfy { ($0["windows"] as? Int ?? 0) >= 1 && $0["mase"] is NSNumber }, "\(backtests)")
            // The method kept is the one with the smallest backtest error, and the reason says so.
            let best = backtests.min { ($0["mase"] as! NSNumber).doubleValue < ($1["mase"] as! NSNumber).doubleValue }!
            #expect(forecast["method"] as? String == best["method"] as? String)
            #expect((forecast["reason"] as? String)?.contains("smallest error") == true, "\(forecast["reason"] ?? "")")
            // A trend with a season is forecast close to where it goes, inside its intervals.
            let points = try #require(forecast["points"] as? [[String: Any]])
            #expect(points.count == 6 && points.first?["period"] as? String == history.months[35].addingMonths(1).description)
            for (h, point) in points.enumerated() {
                let mean = StatementTests.amount(point["mean"]), truth = history.revenueAhead(h)
                #expect(abs(Double(mean - truth)) < 0.05 * Double(truth), "month \(h + 1): \(mean) against \(truth)")
                let bounds = try #require(point["bounds"] as? [[String: Any]])
                let b80 = try #require(bounds.first { $0["level"] as? Int == 80 }), b95 = try #require(bounds.first { $0["level"] as? Int == 95 })
                #expect(StatementTests.amount(b95["lower"]) <= StatementTests.amount(b80["lower"]))
                #expect(StatementTests.amount(b80["lower"]) <= mean && mean <= StatementTests.amount(b80["upper"]))
                #expect(StatementTests.amount(b80["upper"]) <= StatementTests.amount(b95["upper"]))
            }
            #expect(Self.values(forecast, "history") == history.revenue)

            // Stored: the same forecast again by id, by its client id (a replay), and in the list.
            let read = try await client.send(.get, "/v1/insights/forecasts/\(id)", token: books.token)
            #expect(read.status == 200 && (read.body["points"] as? [[String: Any]])?.count == 6 && read.body["method"] as? String == forecast["method"] as? String)
            let replay = try await client.send(.post, "/v1/insights/forecasts", json: body, token: books.token)
            #expect(replay.status == 200 && replay.body["createdAt"] as? String == forecast["createdAt"] as? String)
            let reused = try await client.send(.post, "/v1/insights/forecasts", json: #"{"id":"\#(id)","metric":"revenue","interval":"month","horizon":3}"#, token: books.token)
            #expect(reused.status == 409, "\(reused.body)")
            let list = try await client.send(.get, "/v1/insights/forecasts", token: books.token)
            #expect(((list.body["items"] as? [[String: Any]]) ?? []).map { $0["id"] as? String } == [id])

            let csv = try await Self.raw(client, "/v1/insights/forecasts/\(id)?format=csv", token: books.token)
            let rows = csv.text.split(separator: "\n")
            #expect(csv.status == 200 && rows.first == "period,kind,value,lower_80,upper_80,lower_95,upper_95,scheduled_receipts,scheduled_payments")
            #expect(rows.count == 1 + 36 + 6 && rows.filter { $0.contains(",forecast,") }.count == 6)
            let svg = try await Self.raw(client, "/v1/insights/forecasts/\(id)?format=svg", token: books.token)
            #expect(svg.status == 200 && svg.type?.hasPrefix("image/svg+xml") == true)
            #expect(svg.text.hasPrefix("<svg") && svg.text.contains("<title>forecast</title>") && svg.text.contains("<title>95 % interval</title>"))
            #expect(svg.text.contains("Revenue (USD), monthly"))

            // Asked for by name, a method is used whatever the backtest says.
            let drift = try await client.send(.post, "/v1/insights/forecasts", json: #"{"metric":"revenue","interval":"month","horizon":3,"method":"drift","levels":[90]}"#, token: books.token)
            #expect(drift.status == 201 && drift.body["method"] as? String == "drift" && drift.body["levels"] as? [Int] == [90], "\(drift.body)")
        }
    }

    @Test("open invoices are scheduled by when the customer usually pays, open bills by their due date")
    func scheduled() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "insights-scheduled")
            let today = CalendarDay(instant: sut.clock.now())
            let history = History(today: today)
            let a = try await Self.post(history, books: books)
            func invoice(_ customer: String, issue: CalendarDay, due: CalendarDay, amount: Int64) async throws -> String {
                try await Self.issueInvoice(client, books: books, customer: customer, issue: issue, due: due, amount: amount)
            }
            // The customer paid an earlier invoice ten days late.
            let earlier = try await invoice("c-late", issue: history.months[33], due: history.months[33].addingDays(14), amount: 20_000)
            let paid = try await client.send(
                .post, "/v1/accounting/invoices/\(earlier)/payments",
                json: #"{"amount":20000,"date":"\#(history.months[33].addingDays(24))","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
            try #require(paid.status == 200 || paid.status == 201, "\(paid.body)")
            // Now they owe 30,000 due near the end of this month: expected ten days later, next month.
            let due = max(today, today.endOfMonth.addingDays(-2))
            _ = try await invoice("c-late", issue: today, due: due, amount: 30_000)
            // A vendor's bill due this month.
            let bill = try await client.send(.post, "/v1/accounting/bills", json: """
                {"vendorId":"v-1","vendorName":"Vendor","billDate":"\(today)","dueDate":"\(today.endOfMonth)","post":true,
                 "lines":[{"description":"Parts","quantity":"1","unitPrice":7000,"expenseAccountId":"\(a["6200"]!)"}]}
                """, token: books.token)
            try #require(bill.status == 201, "\(bill.body)")
            try await sut.deliver()

            let made = try await client.send(.post, "/v1/insights/forecasts", json: #"{"metric":"net-cash-flow","interval":"month","horizon":3}"#, token: books.token)
            try #require(made.status == 201, "\(made.body)")
            let scheduled = try #require(made.body["scheduled"] as? [[String: Any]])
            #expect(scheduled.map { $0["period"] as? String } == [0, 1, 2].map { today.startOfMonth.addingMonths($0).description })
            #expect(StatementTests.amount(scheduled[0]["payments"]) == 7_000 && StatementTests.amount(scheduled[0]["receipts"]) == 0, "\(scheduled)")
            #expect(StatementTests.amount(scheduled[1]["receipts"]) == 30_000, "the late payer's invoice lands next month: \(scheduled)")
            let revenue = try await client.send(.post, "/v1/insights/forecasts", json: #"{"metric":"revenue","interval":"month","horizon":3}"#, token: books.token)
            #expect((revenue.body["scheduled"] as? [Any])?.isEmpty == true, "only cash is scheduled")
        }
    }

    @Test("bad requests are refused with a problem and change nothing; too short a history is a conflict")
    func refusals() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "insights-refusals")
            let a = try await books.accounts()
            let today = CalendarDay(instant: sut.clock.now())
            for months in 1...3 {
                let date = today.startOfMonth.addingMonths(-months).addingDays(3).description
                try #require(try await books.post(Books.entry(date: date, lines: [(a["1020"]!, "debit", 1_000), (a["4000"]!, "credit", 1_000)])).status == 201)
            }
            try await sut.deliver()
            let bad = [
                #"{"metric":"revenue","interval":"month","horizon":0}"#,
                #"{"metric":"revenue","interval":"month","horizon":37}"#,
                #"{"metric":"revenue","interval":"month","horizon":3,"levels":[80,80]}"#,
                #"{"metric":"revenue","interval":"month","horizon":3,"levels":[100]}"#,
                #"{"metric":"revenue","interval":"month","horizon":3,"currency":"ZZZ"}"#,
                #"{"metric":"net-cash-flow","interval":"month","horizon":3,"accountId":"x"}"#,
                #"{"metric":"revenue","interval":"month","horizon":3,"id":"not-a-uuid"}"#,
                #"{"metric":"profit","interval":"month","horizon":3}"#,
                #"{"metric":"revenue","interval":"year","horizon":3}"#,
            ]
            for json in bad {
                let response = try await client.send(.post, "/v1/insights/forecasts", json: json, token: books.token)
                #expect(response.status == 400, "\(json): \(response.status) \(response.body)")
            }
            let short = try await client.send(.post, "/v1/insights/forecasts", json: #"{"metric":"revenue","interval":"month","horizon":3}"#, token: books.token)
            #expect(short.status == 409 && short.body["code"] as? String == "not-enough-history", "\(short.body)")
            let list = try await client.send(.get, "/v1/insights/forecasts", token: books.token)
            #expect((list.body["items"] as? [Any])?.isEmpty == true, "nothing was stored")
            let window = try await client.send(.get, "/v1/insights/series?metric=revenue&interval=month&from=2026-02-30", token: books.token)
            #expect(window.status == 400, "\(window.body)")
            let missing = try await client.send(.get, "/v1/insights/forecasts/\(UUID().uuidString.lowercased())", token: books.token)
            #expect(missing.status == 404)
            let anonymous = try await client.send(.get, "/v1/insights/forecasts")
            #expect(anonymous.status == 401)
        }
    }
    /// The insights outbox's events of `type`, decoded.
    static func outbox<Contract: EventContract>(_ contract: Contract.Type, _ sut: TestSystem) async throws -> [Contract] {
        let database = try #require(sut.system.databases["insights"])
        let rows = try await database.read { db in
            try await db.raw("SELECT payload FROM outbox WHERE topic = \(bind: Contract.topic) ORDER BY created_at_ms, id").all(decoding: PayloadRow.self)
        }
        return try rows.map { try CloudEvent<Contract>.decoder.decode(CloudEvent<Contract>.self, from: Data($0.payload.utf8)).data }
    }

    @Test("advice from the books: a late payer and overdue invoices, announced once, dismissable; the late-payment model's predictions")
    func advice() async throws {
        let sut = try await TestSystem.make()
        try await sut.test { client in
            let (books, _) = try await Books.open(client, sut, tag: "insights-advice")
            let today = CalendarDay(instant: sut.clock.now())
            let history = History(today: today)
            let a = try await Self.post(history, books: books)
            func invoice(_ customer: String, issue: CalendarDay, due: CalendarDay, amount: Int64) async throws -> String {
                try await Self.issueInvoice(client, books: books, customer: customer, issue: issue, due: due, amount: amount)
            }
            // "slow" paid two invoices 20 and 30 days late and owes 7,000 not yet due; "acme" owes 12,000 since two months.
            for (i, late) in [20, 30].enumerated() {
                let issued = history.months[30 + i]
                let id = try await invoice("slow", issue: issued, due: issued.addingDays(14), amount: 5_000)
                let paid = try await client.send(
                    .post, "/v1/accounting/invoices/\(id)/payments",
                    json: #"{"amount":5000,"date":"\#(issued.addingDays(14 + late))","cashAccountId":"\#(a["1020"]!)"}"#, token: books.token)
                try #require(paid.status == 200 || paid.status == 201, "\(paid.body)")
            }
            // Last month's rent came with a 40,000 surcharge: half as much again as its trend.
            let surcharge = try await books.post(Books.entry(
                date: history.months[35].addingDays(20).description, description: "Rent surcharge",
                lines: [(a["6100"]!, "debit", 40_000), (a["1020"]!, "credit", 40_000)]))
            let surchargeId = try #require(surcharge.body["id"] as? String, "\(surcharge.body)")
            let open = try await invoice("slow", issue: today, due: today.addingDays(30), amount: 7_000)
            let overdue = try await invoice("acme", issue: history.months[34], due: history.months[34].addingDays(10), amount: 12_000)
            try await sut.deliver()

            let refreshed = try await client.send(.post, "/v1/insights/advice/refresh", token: books.token)
            try #require(refreshed.status == 200, "\(refreshed.body)")
            let items = try #require(refreshed.body["items"] as? [[String: Any]])
            let kinds = items.compactMap { $0["kind"] as? String }
            #expect(kinds.contains("late-payer") && kinds.contains("overdue-invoices"), "\(kinds)")
            #expect(items.map { StatementTests.amount($0["amountAtStake"]) } == items.map { StatementTests.amount($0["amountAtStake"]) }.sorted(by: >))
            let late = try #require(items.first { $0["kind"] as? String == "late-payer" })
            #expect(late["subject"] as? String == "slow" && StatementTests.amount(late["amountAtStake"]) == 7_000)
            #expect((late["sentence"] as? String)?.contains("25 days late") == true, "\(late["sentence"] ?? "")")
            let owed = try #require(items.first { $0["kind"] as? String == "overdue-invoices" })
            #expect(StatementTests.amount(owed["amountAtStake"]) == 12_000)
            #expect(((owed["evidence"] as? [[String: Any]]) ?? []).first?["reference"] as? String == overdue)
            // The expense above its trend names the entries behind last month: the rent and the surcharge.
            let rent = try #require(items.first { $0["kind"] as? String == "expense-above-trend" }, "\(kinds)")
            #expect(rent["subject"] as? String == a["6100"] && StatementTests.amount(rent["amountAtStake"]) > 30_000)
            let entries = ((rent["evidence"] as? [[String: Any]]) ?? []).filter { $0["label"] as? String == "entry" }
            #expect(entries.count == 2 && entries.contains { $0["reference"] as? String == surchargeId }, "\(entries)")
            var announced = try await Self.outbox(InsightRaised.self, sut)
            #expect(announced.count == items.count && Set(announced.map(\.kind)) == Set(kinds))

            // Dismissed, it stays dismissed when the rules find it again, and nothing is announced twice.
            let id = try #require(owed["id"] as? String)
            let dismissed = try await client.send(.post, "/v1/insights/advice/\(id)/dismiss", json: #"{"reason":"chasing it by phone"}"#, token: books.token)
            #expect(dismissed.status == 200 && dismissed.body["status"] as? String == "dismissed" && dismissed.body["dismissReason"] as? String == "chasing it by phone")
            let again = try await client.send(.post, "/v1/insights/advice/refresh", token: books.token)
            #expect(((again.body["items"] as? [[String: Any]]) ?? []).allSatisfy { $0["id"] as? String != id })
            announced = try await Self.outbox(InsightRaised.self, sut)
            #expect(announced.count == items.count)
            let listed = try await client.send(.get, "/v1/insights/advice?status=dismissed", token: books.token)
            #expect(((listed.body["items"] as? [[String: Any]]) ?? []).map { $0["id"] as? String } == [id])
            let long = try await client.send(.post, "/v1/insights/advice/\(id)/dismiss", json: #"{"reason":"\#(String(repeating: "x", count: 501))"}"#, token: books.token)
            #expect(long.status == 400)
            let unknown = try await client.send(.post, "/v1/insights/advice/\(UUID().uuidString.lowercased())/dismiss", token: books.token)
            #expect(unknown.status == 404)
            let badCurrency = try await client.send(.post, "/v1/insights/advice/refresh?currency=ZZZ", token: books.token)
            #expect(badCurrency.status == 400)

            // Three settled invoices are too few for a model: the customer's smoothed late share, and the expected date
            // moves by it times their mean days late.
            let predictions = try await client.send(.get, "/v1/insights/late-payments", token: books.token)
            try #require(predictions.status == 200, "\(predictions.body)")
            let model = try #require(predictions.body["model"] as? [String: Any])
            #expect(model["kind"] as? String == "base-rate" && model["trainedOn"] as? Int == 2)
            let invoices = try #require(predictions.body["invoices"] as? [[String: Any]])
            let slow = try #require(invoices.first { $0["invoiceId"] as? String == open })
            let probability = (slow["probability"] as? NSNumber)?.doubleValue ?? 0
            // Tenant rate (2 + 1) / (2 + 2) = 0.75; "slow", 2 late of 2: (2 + 1.5) / 4 = 0.875; 0.875 × 25 days ≈ 22.
            #expect(abs(probability - 0.875) < 1e-9 && slow["expectedDelayDays"] as? Int == 22, "\(slow)")
            #expect(slow["expectedDate"] as? String == today.addingDays(52).description)
        }
    }
}
