import Foundation

/// What checking an exported audit trail found.
public struct AuditExportReport: Sendable {
    /// The most problems reported; the first is what matters.
    public static let problemsMax = 20
    public internal(set) var records = 0
    public internal(set) var chains = 0
    /// Links checked: a record's previous hash against the record before it in the export.
    public internal(set) var links = 0
    public internal(set) var checkpoints = 0
    /// Stretches of a chain the export leaves out (a filter or a time range), where links cannot be checked.
    public internal(set) var gaps: [String] = []
    /// Checkpoints beyond the last record the export holds of their chain: the export ends earlier (a time range), or
    /// the chain it was taken from had been cut.
    public internal(set) var beyondExport: [String] = []
    /// What does not hold, first found first.
    public internal(set) var problems: [String] = []

    /// Whether every record, link and checkpoint in the export holds.
    public var intact: Bool { self.problems.isEmpty }

    mutating func fail(_ problem: String) {
        if self.problems.count < Self.problemsMax { self.problems.append(problem) }
    }
}

/// Checks an export written by `AuditExport` without the system: every record's hash, the links between consecutive
/// records of a chain, and every checkpoint's signature and signed hash.
public enum AuditExportVerifier {
    /// A line that is not a record or a checkpoint.
    public struct Unreadable: Error, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(self.line): \(self.reason)" }
    }

    enum Entry {
        case record(AuditExport.Record)
        case checkpoint(AuditCheckpoint)
    }

    /// Checks `text` (JSON lines or CSV, told apart by the CSV header). `trustedKeys` (base64 Ed25519 public keys),
    /// when given, are the only keys whose checkpoints count.
    public static func verify(_ text: String, trustedKeys: Set<String>? = nil) throws -> AuditExportReport {
        let entries = try self.entries(text)
        var report = AuditExportReport()
        var checkpointsByChain: [String: [AuditCheckpoint]] = [:]
        for case .checkpoint(let checkpoint) in entries {
            checkpointsByChain["\(checkpoint.service)/\(checkpoint.tenantId)", default: []].append(checkpoint)
            report.checkpoints += 1
            if let problem = checkpoint.signatureProblem(trustedKeys: trustedKeys) {
                report.fail("\(checkpoint.service)/\(checkpoint.tenantId) checkpoint #\(checkpoint.seq): \(problem)")
            }
        }
        let signedHashes = checkpointsByChain.mapValues { Dictionary($0.map { ($0.seq, $0.hash) }) { first, _ in first } }
        var lastByChain: [String: (seq: Int64, hash: String)] = [:]
        var covered: [String: Set<Int64>] = [:]
        for case .record(let record) in entries {
            let chain = "\(record.service)/\(record.tenantId)"
            report.records += 1
            guard record.seq >= 1 else {
                report.fail("\(chain) #\(record.seq): a sequence number starts at 1")
                continue
            }
            if record.computedHash != record.hash { report.fail("\(chain) #\(record.seq): the content does not match its hash") }
            if let signed = signedHashes[chain]?[record.seq] {
                covered[chain, default: []].insert(record.seq)
                if signed != record.hash { report.fail("\(chain) #\(record.seq): differs from the checkpoint that signed it") }
            }
            if let last = lastByChain[chain] {
                if record.seq <= last.seq {
                    report.fail("\(chain) #\(record.seq): out of order after #\(last.seq)")
                } else if record.seq == last.seq + 1 {
                    report.links += 1
                    if record.prevHash != last.hash { report.fail("\(chain) #\(record.seq): its previous hash is not the hash of #\(last.seq)") }
                } else {
                    report.gaps.append("\(chain): #\(last.seq + 1)…#\(record.seq - 1) not in the export")
                }
            } else {
                report.chains += 1
                if record.seq == 1 {
                    report.links += 1
                    if record.prevHash != AuditLog.genesisHash { report.fail("\(chain) #1: does not start from the genesis hash") }
                } else {
                    report.gaps.append("\(chain): #1…#\(record.seq - 1) not in the export")
                }
            }
            lastByChain[chain] = (record.seq, record.hash)
        }
        for (chain, checkpoints) in checkpointsByChain.sorted(by: { $0.key < $1.key }) {
            let last = lastByChain[chain]?.seq ?? 0
            for checkpoint in checkpoints where checkpoint.seq > last {
                report.beyondExport.append("\(chain): a checkpoint signed #\(checkpoint.seq); the export ends at #\(last)")
            }
        }
        return report
    }

    /// The entries of an export, in order.
    static func entries(_ text: String) throws -> [Entry] {
        if text.hasPrefix("kind,") { return try self.csvEntries(text) }
        var entries: [Entry] = []
        let decoder = JSONDecoder()
        struct Kind: Decodable { let kind: String }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let data = Data(line.utf8)
            do {
                switch try decoder.decode(Kind.self, from: data).kind {
                case "record": entries.append(.record(try decoder.decode(AuditExport.Record.self, from: data)))
                case "checkpoint": entries.append(.checkpoint(try decoder.decode(AuditCheckpoint.self, from: data)))
                case let kind: throw Unreadable(line: index + 1, reason: "unknown kind '\(kind.prefix(40))'")
                }
            } catch let error as Unreadable {
                throw error
            } catch {
                throw Unreadable(line: index + 1, reason: "not a record or checkpoint of an audit export")
            }
        }
        return entries
    }

    static func csvEntries(_ text: String) throws -> [Entry] {
        let rows: [(line: Int, fields: [String?])]
        do { rows = try CSVRecords.readNullable(text, delimiter: ",") } catch let error as CSVRecords.UnclosedQuote {
            throw Unreadable(line: error.line, reason: "a quoted field is never closed")
        }
        guard let header = rows.first, header.fields.map({ $0 ?? "" }) == AuditExport.csvColumns else {
            throw Unreadable(line: 1, reason: "the header is not \(AuditExport.csvColumns.joined(separator: ","))")
        }
        var entries: [Entry] = []
        for row in rows.dropFirst() {
            let f = row.fields
            func text(_ index: Int) throws -> String {
                guard let value = f[index] else { throw Unreadable(line: row.line, reason: "\(AuditExport.csvColumns[index]) is missing") }
                return value
            }
            func number(_ index: Int) throws -> Int64 {
                guard let value = Int64(try text(index)) else { throw Unreadable(line: row.line, reason: "\(AuditExport.csvColumns[index]) is not a whole number") }
                return value
            }
            guard f.count == AuditExport.csvColumns.count else {
                throw Unreadable(line: row.line, reason: "\(f.count) fields; the header has \(AuditExport.csvColumns.count)")
            }
            switch f[0] {
            case "record":
                entries.append(.record(AuditExport.Record(
                    service: try text(1), recordId: try text(4), tenantId: try text(2), seq: try number(3), occurredAtMillis: try number(5),
                    actorId: f[6], action: try text(7), target: f[8], outcome: try text(9), clientAddress: f[10], details: try text(11),
                    prevHash: try text(12), hash: try text(13))))
            case "checkpoint":
                entries.append(.checkpoint(AuditCheckpoint(
                    service: try text(1), tenantId: try text(2), seq: try number(3), hash: try text(13), signedAtMillis: try number(14),
                    keyId: try text(15), publicKey: try text(16), signature: try text(17))))
            default:
                throw Unreadable(line: row.line, reason: "kind is neither record nor checkpoint")
            }
        }
        return entries
    }
}
