import FinFlowCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Helpers for driving the transaction API in tests: a signed-up tenant whose ledger is open and whose accounts the
/// transaction service has learnt from the ledger's events.
struct Desk {
    let client: any TestClientProtocol
    let sut: TestSystem
    let user: SignedIn
    /// Account ids by code, from the transaction service's read model.
    let accounts: [String: String]
    var token: String { self.user.accessToken }

    static func open(_ client: any TestClientProtocol, _ sut: TestSystem, tag: String = "desk") async throws -> Desk {
        let user = try await Fixtures.signUp(client, sut, tag: tag)
        try await sut.deliver()
        let response = try await client.send(.get, "/v1/transactions/accounts", token: user.accessToken)
        try #require(response.status == 200, "accounts: \(response.body)")
        let items = try #require(response.body["items"] as? [[String: Any]])
        let accounts = Dictionary(uniqueKeysWithValues: items.map { ($0["code"] as! String, $0["id"] as! String) })
        try #require(accounts["1020"] != nil, "the read model has no accounts: \(response.body)")
        return Desk(client: client, sut: sut, user: user, accounts: accounts)
    }

    /// A transaction's JSON body: money from `from` to `to` (account codes).
    func body(
        _ amount: Int64, from: String = "1020", to: String = "6200", currency: String = "USD", date: String = "2026-03-03",
        kind: String = "expense", counterparty: String? = "City Power", country: String? = nil, reference: String? = nil,
        id: String? = nil, extra: [String: Any] = [:]
    ) -> String {
        var object: [String: Any] = [
            "kind": kind, "amount": amount, "currency": currency, "valueDate": date,
            "sourceAccountId": self.accounts[from] ?? from, "destinationAccountId": self.accounts[to] ?? to,
        ]
        if let counterparty {
            var party: [String: Any] = ["name": counterparty]
            if let country { party["country"] = country }
            object["counterparty"] = party
        }
        if let reference { object["externalReference"] = reference }
        if let id { object["id"] = id }
        for (key, value) in extra { object[key] = value }
        return Self.json(object)
    }

    static func json(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Creates a transaction and returns the response.
    @discardableResult
    func create(_ json: String, headers: HTTPFields = [:]) async throws -> (status: Int, body: [String: Any], headers: HTTPFields) {
        try await self.client.send(.post, "/v1/transactions", json: json, token: self.token, headers: headers)
    }

    /// One transaction as JSON.
    func transaction(_ id: String) async throws -> [String: Any] {
        let response = try await self.client.send(.get, "/v1/transactions/\(id)", token: self.token)
        try #require(response.status == 200, "transaction: \(response.body)")
        return response.body
    }

    /// The ids of the transactions a query lists, following every page.
    func list(_ query: String = "") async throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        var cursor: String?
        repeat {
            var path = "/v1/transactions?limit=200" + (query.isEmpty ? "" : "&" + query)
            if let cursor { path += "&cursor=" + cursor }
            let response = try await self.client.send(.get, path, token: self.token)
            try #require(response.status == 200, "list: \(response.body)")
            items += try #require(response.body["items"] as? [[String: Any]])
            cursor = response.body["nextCursor"] as? String
        } while cursor != nil
        return items
    }

    /// Replaces the tenant's limits; `change` edits the defaults.
    func setLimits(_ change: (inout [String: Any]) -> Void) async throws {
        var limits: [String: Any] = [
            "accountVelocity": ["windowSeconds": 86_400, "countMax": 10_000], "tenantVelocity": ["windowSeconds": 86_400, "countMax": 1_000_000],
            "duplicateWindowDays": 3,
        ]
        change(&limits)
        let response = try await self.client.send(.put, "/v1/transactions/limits", json: Self.json(limits), token: self.token)
        try #require(response.status == 200, "limits: \(response.body)")
    }

    /// The posted balance of a ledger account (positive on its normal side), from the accounting service.
    func balance(_ code: String) async throws -> Int64 {
        try await Books(client: self.client, token: self.token).balance(self.accounts[code]!)
    }

    /// The transaction service's outbox events of a contract.
    func events<Contract: EventContract>(_ contract: Contract.Type) async throws -> [Contract] {
        let database = try #require(self.sut.system.databases["transactions"])
        let rows = try await database.read { db in
            try await db.raw("SELECT payload FROM outbox WHERE topic = \(bind: Contract.topic) ORDER BY created_at_ms, id").all(decoding: PayloadRow.self)
        }
        return try rows.map { try CloudEvent<Contract>.decoder.decode(CloudEvent<Contract>.self, from: Data($0.payload.utf8)).data }
    }
}
