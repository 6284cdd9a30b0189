import FinFlowCore
import FinFlowServer
import Foundation
import Logging
import Testing

/// tools/mail/smtp-test-server.py (aiosmtpd) on 127.0.0.1 with a certificate made for the test: STARTTLS and AUTH PLAIN
/// required, accepted messages written to a Maildir.
final class SMTPTestServer: Sendable {
    let process: ChildProcess
    let port = FreePort.next()
    let directory: URL
    var certificate: String { self.directory.appendingPathComponent("cert.pem").path }
    var maildir: URL { self.directory.appendingPathComponent("maildir") }
    static let user = "finflow"
    static let password = "mail-Secret-7"

    init() async throws {
        let path = try #require(
            ProcessInfo.processInfo.environment["FINFLOW_AIOSMTPD_PATH"], "run the tests through scripts/test.sh, or source scripts/mail-tools.sh first")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finflow-smtp-\(UUID().uuidString)")
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let key = directory.appendingPathComponent("key.pem").path, certificate = directory.appendingPathComponent("cert.pem").path
        let openssl = try await ChildProcess.run("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", certificate,
        ])
        try #require(openssl.status == 0, "openssl could not make the test certificate: \(openssl.output)")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/mail/smtp-test-server.py").path
        self.process = try ChildProcess(
            "python3", [script, String(self.port), certificate, key, directory.appendingPathComponent("maildir").path, Self.user, Self.password],
            environment: ProcessInfo.processInfo.environment.merging(["PYTHONPATH": path]) { $1 })
    }

    /// Waits until it takes connections.
    func ready() async throws {
        for _ in 0..<100 {
            try #require(!self.process.hasExited, "the SMTP test server exited before serving")
            let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(self.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(socket)
            if connected == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the SMTP test server did not start")
    }

    /// The messages it has accepted, as text.
    func messages() throws -> [String] {
        let folder = self.maildir.appendingPathComponent("new")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return try files.map { try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8) }
    }

    /// Kills it.
    func stop() {
        self.process.send(SIGKILL)
        try? FileManager.default.removeItem(at: self.directory)
    }
}

@Suite("mail: tokens travel only by mail, through a real SMTP server")
struct MailTests {
    /// The decoded text of a message's base64 body.
    static func body(_ message: String) -> String {
        guard let blank = message.range(of: "\n\n") ?? message.range(of: "\r\n\r\n") else { return "" }
        let encoded = message[blank.upperBound...].filter { !$0.isWhitespace }
        return Data(base64Encoded: String(encoded)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    @Test("verification and reset mails go through STARTTLS and AUTH to a real SMTP server; their tokens are in no event and the sent text is dropped")
    func smtp() async throws {
        let server = try await SMTPTestServer()
        defer { server.stop() }
        try await server.ready()
        let sut = try await TestSystem.make {
            $0.smtpURL = "smtp://\(SMTPTestServer.user):\(SMTPTestServer.password)@localhost:\(server.port)"
            $0.smtpTrustRootsFile = server.certificate
        }
        let settings = sut.system.settings
        let auth = try #require(sut.system.databases["auth"])
        let relay = MailRelay(database: auth, sender: FinFlowSystem.mailer(settings: settings, logger: Logger(label: "test.mail")),
                              clock: sut.clock, logger: Logger(label: "test.mail"))
        try await sut.test { client in
            let user = try await Fixtures.signUp(client, sut)
            #expect(try await client.send(.post, "/v1/auth/password/forgot", json: #"{"email":"\#(user.email)"}"#).status == 202)
            let token = try await Fixtures.mailedToken(sut, to: user.email, purpose: "reset-password")
            #expect(try await relay.drain() == 2)
            let received = try server.messages()
            #expect(received.count == 2)
            let reset = try #require(received.map(Self.body).first { $0.contains("Reset your password") })
            #expect(reset.contains(token))
            #expect(received.allSatisfy { $0.contains("To: <\(user.email)>") })

            // No token in any event any service wrote, and none left in the mail outbox once sent.
            struct Payload: Decodable { let payload: String }
            struct Body: Decodable { let body: String }
            for (name, database) in sut.system.databases {
                let events = try await database.read { db in try await db.raw("SELECT payload FROM outbox").all(decoding: Payload.self) }
                #expect(!events.contains { $0.payload.contains(token) }, "an event of \(name) carries the reset token")
            }
            let kept = try await auth.read { db in try await db.raw("SELECT body FROM mail_outbox").all(decoding: Body.self) }
            #expect(kept.allSatisfy { $0.body.isEmpty })

            // The token from the mail that arrived works.
            let changed = try await client.send(
                .post, "/v1/auth/password/reset", json: #"{"token":"\#(token)","newPassword":"amber-Lantern-93-fjord"}"#)
            #expect(changed.status == 204, "\(changed.body)")
        }
    }

    @Test("a refused recipient gives the message up; an untrusted certificate is tried again later; nothing goes in the clear")
    func refusals() async throws {
        let server = try await SMTPTestServer()
        defer { server.stop() }
        try await server.ready()
        let sut = try await TestSystem.make()
        let auth = try #require(sut.system.databases["auth"])
        struct Row: Decodable { let attempts: Int; let sent_at_ms: Int64?; let failed_at_ms: Int64?; let last_error: String?; let body: String }
        @Sendable func relay(trust: String?) -> MailRelay {
            let address = SMTPAddress(url: "smtp://\(SMTPTestServer.user):\(SMTPTestServer.password)@localhost:\(server.port)")!
            return MailRelay(database: auth, sender: SMTPMailer(address: address, from: "FinFlow <no-reply@finflow.test>", trustRootsFile: trust),
                             clock: sut.clock, logger: Logger(label: "test.mail"))
        }
        func row() async throws -> Row {
            let found = try await auth.read { db in
                try await db.raw("SELECT attempts, sent_at_ms, failed_at_ms, last_error, body FROM mail_outbox").first(decoding: Row.self)
            }
            guard let found else { throw InvariantViolation("the mail outbox is empty") }
            return found
        }
        _ = try await auth.transaction { db in
            try await MailOutbox(ids: IdentifierGenerator(clock: sut.clock), clock: sut.clock)
                .enqueue(to: "nobody@refused.example", subject: "Hello", body: "token: secret-1", purpose: "test", on: db)
        }
        // A certificate nobody vouches for: not sent, tried again later.
        #expect(try await relay(trust: nil).drain() == 0)
        var state = try await row()
        #expect(state.attempts == 1 && state.sent_at_ms == nil && state.failed_at_ms == nil && state.body.contains("secret-1"), "\(state)")
        // Not due yet: nothing is tried.
        #expect(try await relay(trust: server.certificate).drain() == 0)
        #expect(try await row().attempts == 1)
        // Due, trusted, and refused by the server for good: given up, its text dropped.
        sut.clock.advance(seconds: 60)
        #expect(try await relay(trust: server.certificate).drain() == 0)
        state = try await row()
        #expect(state.failed_at_ms != nil && state.last_error?.contains("550") == true && state.body.isEmpty, "\(state)")
        #expect(try server.messages().isEmpty)

        // In the clear, the server refuses before any message is taken (it requires STARTTLS).
        let plain = SMTPMailer(address: SMTPAddress(url: "smtp+plain://localhost:\(server.port)")!, from: "FinFlow <no-reply@finflow.test>")
        let message = try MailMessage(id: "m-1", to: "someone@example.com", subject: "Hello", body: "token: secret-2", purpose: "test")
        await #expect(throws: AppError.self) { () async throws in try await plain.send(message) }
        #expect(try server.messages().isEmpty)
        try await sut.system.shutdown()
    }
}
