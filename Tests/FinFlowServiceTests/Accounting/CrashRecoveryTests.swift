import AsyncHTTPClient
import FinFlowCore
import FinFlowServer
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// A `finflow serve` process of the built binary, on a random port.
final class ServerProcess: Sendable {
    let process: ChildProcess
    let port: Int
    /// Where the process writes its output, when the test keeps it.
    let log: URL?
    var base: String { "http://127.0.0.1:\(self.port)" }

    convenience init(settings: Settings, environment: [String: String] = [:]) throws {
        let port = FreePort.next()
        var arguments = ["serve", "--port", String(port), "--data-directory", settings.dataDirectory, "--log-level", "error"]
        if let url = settings.databaseURL { arguments += ["--database-url", url, "--migrate"] }
        try self.init(arguments: arguments, port: port, environment: environment)
    }

    /// `finflow` with `arguments` (which name `port`) and `environment` over the test's own, minus its `FINFLOW_*`
    /// variables; its output goes to `log` when given.
    init(arguments: [String], port: Int, environment: [String: String] = [:], log: URL? = nil) throws {
        self.port = port
        self.log = log
        self.process = try ChildProcess(
            CommandLineTests.binary.path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FINFLOW_") }.merging(environment) { $1 },
            output: log?.path)
    }

    /// Why a server process could not be waited for.
    struct NotServing: Error, CustomStringConvertible {
        let description: String
    }

    /// Waits until the server answers its liveness probe; fails at once, with the process's output, when it exits
    /// instead, and after 30 s when it neither serves nor exits.
    func ready() async throws {
        for _ in 0..<300 {
            if self.hasExited {
                let output = self.log.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "(output not kept)"
                Issue.record("finflow exited before serving: \n\(output.suffix(4_000))")
                throw NotServing(description: "the server exited before serving")
            }
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: self.base + "/health/live"), timeout: .seconds(1)),
                response.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the server did not start")
        throw NotServing(description: "the server did not answer within 30 s")
    }

    func kill() {
        self.process.send(SIGKILL)
    }

    func stop() {
        self.process.send(SIGTERM)
    }

    /// Waits for the process to end without holding a thread of the cooperative pool.
    func exited() async throws {
        _ = try await self.process.waitForExit()
    }

    var hasExited: Bool { self.process.hasExited }

    /// Sends a JSON request and returns the status and decoded body.
    func send(
        _ method: HTTPMethod, _ path: String, json: String? = nil, token: String? = nil, headers: [(String, String)] = []
    ) async throws -> (status: Int, body: [String: Any]) {
        var request = HTTPClientRequest(url: self.base + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                request.headers.add(name: "content-type", value: "application/json")
            }
            request.body = .bytes(ByteBuffer(string: json))
        }
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:])
    }
}

@Suite("accounting: crash recovery")
struct CrashRecoveryTests {
    @Test("SIGKILL during batched posting: every acknowledged entry survives and no partial entry exists")
    func killDuringPosting() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "build the finflow executable first")
        let sut = try await TestSystem.make()
        let demo = try await sut.system.createDemo()
        let settings = sut.system.settings
        try await sut.system.shutdown()

        let first = try ServerProcess(settings: settings)
        try await first.ready()
        let login = #"{"email":"\#(demo.email)","password":"\#(demo.password)"}"#
        let firstToken = try #require(try await first.send(.POST, "/v1/auth/login", json: login).body["tokens"] as? [String: Any])["accessToken"] as! String
        let accounts = try await first.send(.GET, "/v1/accounting/accounts", token: firstToken).body["items"] as? [[String: Any]] ?? []
        let id = { (code: String) in accounts.first { $0["code"] as? String == code }?["id"] as! String }
        let rent = id("6100"), bank = id("1020")
        let today = LedgerDateText.today
        let posted = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var acknowledged: [String] = []
                    for _ in 0..<200 {
                        let ids = (0..<25).map { _ in UUID().uuidString.lowercased() }
                        let balanced = ids.map { entryId -> String in
                            let amount = Int64.random(in: 1...1000)
                            return Books.entry(date: today, description: "Crash test", id: entryId, lines: [(rent, "debit", amount), (bank, "credit", amount)])
                        }
                        guard let response = try? await first.send(.POST, "/v1/accounting/journal-entries/batch",
                                                                   json: #"{"entries":[\#(balanced.joined(separator: ","))]}"#, token: firstToken),
                            response.status == 201
                        else { return acknowledged }
                        acknowledged += ids
                    }
                    return acknowledged
                }
            }
            group.addTask {
                // Kill once some batches are in, while the posters are mid-flight.
                try await Task.sleep(for: .milliseconds(1500))
                first.kill()
                return []
            }
            var all: [String] = []
            for try await ids in group { all += ids }
            return all
        }
        try await first.exited()
        #expect(posted.count >= 25, "too little was acknowledged before the kill to prove anything")

        let second = try ServerProcess(settings: settings)
        try await second.ready()
        let token = try #require(try await second.send(.POST, "/v1/auth/login", json: login).body["tokens"] as? [String: Any])["accessToken"] as! String
        var missing = 0
        for entryId in posted where try await second.send(.GET, "/v1/accounting/journal-entries/\(entryId)", token: token).status != 200 {
            missing += 1
        }
        #expect(missing == 0, "\(missing) acknowledged entries were lost")
        // No partial entry: every entry in the journal has balanced lines, and every running total equals its lines.
        var cursor: String?
        var seen = 0
        repeat {
            let page = try await second.send(.GET, "/v1/accounting/journal-entries?limit=200\(cursor.map { "&cursor=\($0)" } ?? "")", token: token)
            for entry in page.body["items"] as? [[String: Any]] ?? [] {
                let lines = entry["lines"] as? [[String: Any]] ?? []
                let net = lines.reduce(Int64(0)) { $0 + ($1["side"] as? String == "debit" ? 1 : -1) * StatementTests.amount($1["amount"]) }
                #expect(lines.count >= 2 && (entry["status"] as? String != "posted" || net == 0 || Set(lines.map { $0["currency"] as? String }).count > 1),
                        "entry \(entry["id"] ?? "") is partial")
                seen += 1
            }
            cursor = page.body["nextCursor"] as? String
        } while cursor != nil
        #expect(seen >= posted.count)
        let trial = try await second.send(.GET, "/v1/accounting/statements/trial-balance?to=2999-12-31", token: token)
        let closing = Dictionary(uniqueKeysWithValues: ((trial.body["currencies"] as? [[String: Any]]) ?? []).flatMap { currency in
            (currency["rows"] as? [[String: Any]] ?? []).map { ($0["accountId"] as! String, StatementTests.amount($0["closing"])) }
        })
        for account in try await second.send(.GET, "/v1/accounting/accounts", token: token).body["items"] as? [[String: Any]] ?? [] {
            let balances = account["balances"] as! [String: Any]
            let running = StatementTests.amount(balances["postedDebits"]) - StatementTests.amount(balances["postedCredits"])
            #expect(running == closing[account["id"] as! String] ?? 0, "account \(account["code"] ?? "") running total differs from its lines")
        }
        second.stop()
        try await second.exited()
    }
}

/// Today's date as the ledger writes it.
enum LedgerDateText {
    static var today: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date())
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }
}
