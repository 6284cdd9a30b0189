import ArgumentParser
import FinFlowServer
import Foundation

/// `finflow top`: a live view of a running fleet's busiest routes, statements and consumers.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show the busiest routes, database statements and event consumers of running FinFlow processes, live.",
        discussion: "Reads each process's /metrics every interval and shows what changed. Ctrl-C stops it.")

    @Option(help: "The processes' base URLs, comma-separated.") var targets: String = "http://127.0.0.1:8080"
    @Option(help: "Seconds between readings (1–3600).") var interval: Int = 2
    @Option(help: "Rows in each table (1–100).") var rows: Int = 10
    @Flag(help: "Print one reading's difference and stop (for scripts).") var once = false

    func validate() throws {
        guard (1...3_600).contains(self.interval) else { throw ValidationError("--interval: 1–3600 seconds") }
        guard (1...100).contains(self.rows) else { throw ValidationError("--rows: 1–100") }
        for target in self.targetList {
            guard let url = URL(string: target), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--targets: '\(target.prefix(100))' is not an http(s) URL")
            }
        }
        guard !self.targetList.isEmpty, self.targetList.count <= 100 else { throw ValidationError("--targets: 1–100 URLs") }
    }

    var targetList: [String] {
        self.targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    func run() async throws {
        let top = FleetTop(targets: self.targetList, rows: self.rows)
        var before = await top.read()
        while true {
            try await Task.sleep(for: .seconds(self.interval))
            let after = await top.read()
            let text = FleetTop.render(top.frame(from: before, to: after))
            if self.once {
                print(text)
                return
            }
            // Clear the screen and draw from its top.
            print("\u{1B}[2J\u{1B}[H" + text)
            before = after
        }
    }
}
