/// One sample of Prometheus's text exposition format: a metric name, its labels and its value.
public struct PrometheusSample: Sendable, Equatable {
    public let name: String
    public let labels: [String: String]
    public let value: Double

    public init(name: String, labels: [String: String], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// Reads Prometheus's text exposition format (what every FinFlow process serves at `/metrics`).
public enum PrometheusText {
    /// Lines read at most, so a runaway target cannot hold the reader.
    public static let linesMax = 1_000_000

    /// The samples of `text`; comment lines and lines that are not a sample are skipped.
    public static func parse(_ text: String) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(Self.linesMax) {
            guard let first = line.first, first != "#" else { continue }
            if let sample = Self.sample(Substring(line)) { samples.append(sample) }
        }
        return samples
    }

    private static func sample(_ line: Substring) -> PrometheusSample? {
        var labels: [String: String] = [:]
        let name: Substring
        var rest: Substring
        if let brace = line.firstIndex(of: "{") {
            name = line[..<brace]
            rest = line[line.index(after: brace)...]
            // label="value", … } — values may hold escaped quotes, backslashes and newlines.
            while true {
                rest = rest.drop { $0 == " " || $0 == "," }
                if rest.first == "}" {
                    rest = rest.dropFirst()
                    break
                }
                guard let equals = rest.firstIndex(of: "=") else { return nil }
                let label = String(rest[..<equals])
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                var value = ""
                var escaped = false
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        value.append(character == "n" ? "\n" : character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { return nil }
                labels[label] = value
            }
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = line[..<space]
            rest = line[space...]
        }
        let fields = rest.split(separator: " ")
        guard !name.isEmpty, let text = fields.first else { return nil }
        let value: Double? = switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
        return value.map { PrometheusSample(name: String(name), labels: labels, value: $0) }
    }
}
