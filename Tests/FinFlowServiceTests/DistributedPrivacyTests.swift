#if Kafka
import AsyncHTTPClient
import FinFlowCore
import Foundation
import HummingbirdOTP
import NIOCore
import Logging
import NIOHTTP1
import SQLKit
import Testing

/// A data subject access request across separate processes over Kafka and PostgreSQL: the transaction service is down
/// when the request is opened, the request shows it awaited while the other services answer, and it answers once it
/// is started again.
@Suite("distributed: a data subject request and a strongly authenticated payment initiation across processes", .timeLimit(.minutes(5)))
struct DistributedPrivacyTests {
    @Test("compliance, transactions and the other ten services apart: the killed service answers after its restart; compliance verifies auth's authentication code with the JWKS alone", .enabled(if: DistributedKafkaTests.available))
    func accessRequestAcrossProcesses() async throws {
        let cluster = try await DistributedCluster.open(tag: "privacy", poolSize: 3)
        defer { cluster.close() }
        let (databaseURL, kafka) = (cluster.databaseURL, cluster.kafka)
        let email = (0, cluster.email, cluster.password)
        func start(_ services: String, port: Int, environment: [String: String]) async throws -> ServerProcess {
            try await cluster.start(services, port: port, environment: environment)
        }
        let ports = (0..<3).map { _ in FreePort.next() }
        let others = try await start("auth,tenancy,accounting,payments,credit,insights,integrations,analytics,realtime,performance", port: ports[0], environment: kafka)
        let remote = kafka.merging(["FINFLOW_JWKS_URL": others.base + "/.well-known/jwks.json"]) { $1 }
        var transactions = try await start("transactions", port: ports[1], environment: remote)
        let compliance = try await start("compliance", port: ports[2], environment: remote)
        defer {
            for server in [others, transactions, compliance] { server.kill() }
        }
        let login = try await others.send(.POST, "/v1/auth/login", json: #"{"email":"\#(email.1)","password":"\#(email.2)"}"#)
        try #require(login.status == 200, "\(login.body)")
        let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String)
        let me = try await others.send(.GET, "/v1/auth/me", token: token)
        let userId = try #require(me.body["userId"] as? String, "\(me.body)")

        // The transaction service is down when the request is opened.
        transactions.kill()
        try await transactions.exited()
        let opened = try await compliance.send(
            .POST, "/v1/compliance/data-subject-requests", json: #"{"userId":"\#(userId)","email":"\#(email.1)","names":["City Power"]}"#, token: token)
        try #require(opened.status == 201, "\(opened.body)")
        let id = try #require(opened.body["id"] as? String)
        func services() async throws -> (status: String, waiting: [String]) {
            let request = try await compliance.send(.GET, "/v1/compliance/data-subject-requests/\(id)", token: token)
            let waiting = (request.body["services"] as? [[String: Any]] ?? []).filter { $0["status"] as? String != "answered" }.compactMap { $0["service"] as? String }
            return (request.body["status"] as? String ?? "", waiting)
        }
        #expect(try await DistributedKafkaTests.eventually(90) { try await services().waiting == ["transactions"] },
                "the ten running services did not answer, or the stopped one did not show as awaited")
        #expect(try await services().status == "open")

        transactions = try await start("transactions", port: ports[1], environment: remote)
        #expect(try await DistributedKafkaTests.eventually(90) { try await services().status == "ready" }, "the restarted service did not answer")

        var request = HTTPClientRequest(url: compliance.base + "/v1/compliance/data-subject-requests/\(id)/archive")
        request.headers.add(name: "authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.status == .ok)
        let bytes = Array(buffer: try await response.body.collect(upTo: 64 << 20))
        let files = Dictionary(uniqueKeysWithValues: TarArchive.files(bytes).map { ($0.name, $0.data) })
        #expect(Set(files.keys) == Set(["manifest.json"] + DataSubjectRequestOpened.answeringServices.map { "\($0).json" }))
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(files["manifest.json"] ?? [])) as? [String: Any])
        for part in manifest["parts"] as? [[String: Any]] ?? [] {
            #expect(Digest.sha256Hex(files[part["file"] as? String ?? ""] ?? []) == part["sha256"] as? String, "\(part)")
        }

        // Strong customer authentication across processes: the auth service signs the code, compliance (apart, with
        // only the JWKS) verifies it, for this amount and creditor only.
        #expect(try await others.send(.POST, "/v1/auth/mfa/totp/enroll", token: token).status == 200)
        struct Secret: Decodable { let totp_secret: String }
        let users = try PostgresDatabase(url: databaseURL, schema: "auth", poolSizeMax: 1, logger: Logger(label: "test.auth"))
        let secret = try await users.read { db in
            try await db.raw("SELECT totp_secret FROM users WHERE id = \(bind: userId)").first(decoding: Secret.self)
        }
        try await users.shutdown()
        let totp = TOTP(secret: try #require(secret?.totp_secret))
        let code = String(format: "%06d", totp.compute(date: Date()))
        let confirmed = try await others.send(.POST, "/v1/auth/mfa/totp/confirm", json: #"{"code":"\#(code)"}"#, token: token)
        #expect(confirmed.status == 200, "\(confirmed.body)")
        let client = try await others.send(.POST, "/v1/auth/clients", json: #"{"name":"initiator","scopes":["psd2:consents"]}"#, token: token)
        let clientId = try #require(client.body["clientId"] as? String, "\(client.body)")
        let clientSecret = try #require(client.body["clientSecret"] as? String)
        let issued = try await others.send(
            .POST, "/v1/auth/token", json: "grant_type=client_credentials&client_id=\(clientId)&client_secret=\(clientSecret)",
            headers: [("content-type", "application/x-www-form-urlencoded")])
        let tpp = try #require(issued.body["access_token"] as? String, "\(issued.body)")
        let initiated = try await compliance.send(.POST, "/v1/psd2/payments/sepa-credit-transfers", json: PSD2PaymentTests.payment(), token: tpp,
                                                  headers: [("PSU-ID", userId)])
        let paymentId = try #require(initiated.body["paymentId"] as? String, "\(initiated.body)")
        func authenticate(_ amount: Int) async throws -> String {
            let answer = try await others.send(.POST, "/v1/auth/sca", json: PSD2PaymentTests.json([
                "purpose": "payment-initiation", "amount": amount, "currency": "EUR", "payee": PSD2PaymentTests.creditor, "code": code,
            ]), token: token)
            #expect(answer.status == 201, "\(answer.body)")
            return answer.body["authenticationCode"] as? String ?? ""
        }
        let wrongAmount = try await authenticate(12_541)
        let path = "/v1/psd2/payment-initiations/\(paymentId)/authorisation"
        let refused = try await compliance.send(.POST, path, json: #"{"decision":"authorise"}"#, token: token, headers: [("SCA-Authentication-Code", wrongAmount)])
        #expect(refused.status == 403 && refused.body["code"] as? String == "sca-code-mismatch", "\(refused.body)")
        // The same TOTP step is accepted once: the next code comes with the next step.
        try await Task.sleep(for: .seconds(30 - Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 30) + 1))
        let nextCode = String(format: "%06d", totp.compute(date: Date()))
        let answer = try await others.send(.POST, "/v1/auth/sca", json: PSD2PaymentTests.json([
            "purpose": "payment-initiation", "amount": 12_540, "currency": "EUR", "payee": PSD2PaymentTests.creditor, "code": nextCode,
        ]), token: token)
        let right = try #require(answer.body["authenticationCode"] as? String, "\(answer.body)")
        let authorised = try await compliance.send(.POST, path, json: #"{"decision":"authorise"}"#, token: token, headers: [("SCA-Authentication-Code", right)])
        #expect(authorised.status == 200 && authorised.body["transactionStatus"] as? String == "ACTC", "\(authorised.body)")
    }
}
#endif
