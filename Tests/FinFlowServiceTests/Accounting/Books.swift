import FinFlowCore
import Foundation
import HummingbirdTesting
import Testing

/// Helpers for driving the accounting API in tests.
struct Books {
    let client: any TestClientProtocol
    let token: String

    /// Signs a new user up and waits until their tenant's ledger is open.
    static func open(_ client: any TestClientProtocol, _ sut: TestSystem, tag: String = "books") async throws -> (Books, SignedIn) {
        let user = try await Fixtures.signUp(client, sut, tag: tag)
        try await sut.deliver()
        return (Books(client: client, token: user.accessToken), user)
    }

    /// Account ids by code.
    func accounts() async throws -> [String: String] {
        let response = try await self.client.send(.get, "/v1/accounting/accounts", token: self.token)
        try #require(response.status == 200, "accounts: \(response.body)")
        let items = try #require(response.body["items"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: items.map { ($0["code"] as! String, $0["id"] as! String) })
    }

    /// One account as JSON.
    func account(_ id: String) async throws -> [String: Any] {
        let response = try await self.client.send(.get, "/v1/accounting/accounts/\(id)", token: self.token)
        try #require(response.status == 200, "account: \(response.body)")
        return response.body
    }

    /// The posted balance of an account (positive on its normal side).
    func balance(_ id: String) async throws -> Int64 {
        let balances = try #require(try await self.account(id)["balances"] as? [String: Any])
        return (balances["balance"] as! NSNumber).int64Value
    }

    /// An entry's JSON body.
    static func entry(
        date: String = "2026-03-10", description: String = "Entry", id: String? = nil, mode: String? = nil,
        timeoutSeconds: Int? = nil, lines: [(String, String, Int64)]
    ) -> String {
        var object: [String: Any] = [
            "date": date, "description": description,
            "lines": lines.map { ["accountId": $0.0, "side": $0.1, "amount": $0.2] },
        ]
        if let id { object["id"] = id }
        if let mode { object["mode"] = mode }
        if let timeoutSeconds { object["timeoutSeconds"] = timeoutSeconds }
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Posts an entry and returns the response.
    @discardableResult
    func post(_ json: String, token: String? = nil) async throws -> (status: Int, body: [String: Any]) {
        let response = try await self.client.send(.post, "/v1/accounting/journal-entries", json: json, token: token ?? self.token)
        return (response.status, response.body)
    }

    /// The trial balance's (total debits, total credits, closing sum) per currency, and its row count.
    func trialBalance(query: String = "") async throws -> [String: (debits: Int64, credits: Int64, rows: Int)] {
        let response = try await self.client.send(.get, "/v1/accounting/statements/trial-balance\(query)", token: self.token)
        try #require(response.status == 200, "trial balance: \(response.body)")
        var result: [String: (Int64, Int64, Int)] = [:]
        for currency in try #require(response.body["currencies"] as? [[String: Any]]) {
            let rows = currency["rows"] as! [[String: Any]]
            let closing = rows.reduce(Int64(0)) { $0 + ($1["closing"] as! NSNumber).int64Value }
            #expect(closing == 0, "the trial balance must sum to zero")
            result[currency["currency"] as! String] = (
                (currency["totalDebits"] as! NSNumber).int64Value, (currency["totalCredits"] as! NSNumber).int64Value, rows.count)
        }
        return result
    }
}

extension Fixtures {
    /// Signs up a second person, invites them into `owner`'s tenant with `roles`, and returns their token there.
    static func member(
        of owner: SignedIn, roles: [String], _ client: any TestClientProtocol, _ sut: TestSystem, tag: String
    ) async throws -> String {
        let person = try await Self.signUp(client, sut, tag: tag)
        let rolesJSON = roles.map { "\"\($0)\"" }.joined(separator: ",")
        let invited = try await client.send(
            .post, "/v1/tenants/current/invitations", json: #"{"email":"\#(person.email)","roles":[\#(rolesJSON)]}"#,
            token: owner.accessToken)
        try #require(invited.status == 201, "invite: \(invited.body)")
        let token = try await Self.mailedToken(sut, to: person.email, purpose: "invitation", service: "tenancy")
        let accepted = try await client.send(.post, "/v1/invitations/accept", json: #"{"token":"\#(token)"}"#, token: person.accessToken)
        try #require(accepted.status == 200, "accept: \(accepted.body)")
        try await sut.deliver()
        let switched = try await client.send(
            .post, "/v1/auth/token/switch-tenant", json: #"{"tenantId":"\#(owner.tenantId)"}"#, token: person.accessToken)
        return try #require(switched.body["accessToken"] as? String)
    }
}
