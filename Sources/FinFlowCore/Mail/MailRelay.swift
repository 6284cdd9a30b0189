import Foundation
import Logging
import SQLKit
import ServiceLifecycle

/// Sends a service's `mail_outbox` through its `MailSender`: each due message is claimed (a lease, so two replicas do
/// not both send it), sent, and marked sent with its text dropped, since it may hold a token. A failure is tried again
/// later, at pauses that double up to an hour; after `attemptsMax` the message is set aside as failed and logged.
public final class MailRelay: Service {
    let database: any Database
    let sender: any MailSender
    let clock: any FinFlowClock
    let logger: Logger
    /// Messages sent per round.
    public static let batchSize = 50
    /// Attempts after which a message is given up.
    public static let attemptsMax = 10
    /// How long a claim on a message holds, in milliseconds: longer than any one SMTP exchange may take.
    static let leaseMillis: Int64 = 120_000
    /// Pause between rounds, in milliseconds.
    let pollIntervalMillis: Int
    private let lock = AsyncLock()

    private struct Row: Decodable {
        let id: String
        let to_address: String
        let subject: String
        let body: String
        let purpose: String
        let attempts: Int
    }

    /// A relay from `database`'s mail outbox to `sender`.
    public init(database: any Database, sender: any MailSender, clock: any FinFlowClock, logger: Logger, pollIntervalMillis: Int = 1_000) {
        self.database = database
        self.sender = sender
        self.clock = clock
        self.logger = logger
        self.pollIntervalMillis = pollIntervalMillis
    }

    /// Sends what is due now; returns how many messages were sent.
    @discardableResult
    public func drain() async throws -> Int {
        try await self.lock.withLock {
            let now = self.clock.nowMillis()
            let due = try await self.database.read { db in
                try await db.raw("""
                    SELECT id, to_address, subject, body, purpose, attempts FROM mail_outbox
                    WHERE sent_at_ms IS NULL AND failed_at_ms IS NULL AND next_attempt_at_ms <= \(bind: now)
                    AND (lease_until_ms IS NULL OR lease_until_ms < \(bind: now))
                    ORDER BY next_attempt_at_ms, id LIMIT \(bind: Self.batchSize)
                    """).all(decoding: Row.self)
            }
            var sent = 0
            for row in due where try await self.claim(row.id, now: now) {
                if try await self.send(row) { sent += 1 }
            }
            return sent
        }
    }

    /// Takes the message for this process until the lease ends; false when another took it first.
    private func claim(_ id: String, now: Int64) async throws -> Bool {
        try await self.database.write { db in
            try await db.raw("""
                UPDATE mail_outbox SET lease_until_ms = \(bind: now + Self.leaseMillis)
                WHERE id = \(bind: id) AND sent_at_ms IS NULL AND failed_at_ms IS NULL
                AND (lease_until_ms IS NULL OR lease_until_ms < \(bind: now))
                RETURNING id
                """).first() != nil
        }
    }

    private func send(_ row: Row) async throws -> Bool {
        let now = self.clock.nowMillis()
        do {
            let message = try MailMessage(id: row.id, to: row.to_address, subject: row.subject, body: row.body, purpose: row.purpose)
            try await self.sender.send(message)
            try await self.database.write { db in
                try await db.raw("""
                    UPDATE mail_outbox SET sent_at_ms = \(bind: now), body = '', lease_until_ms = NULL, last_error = NULL
                    WHERE id = \(bind: row.id)
                    """).run()
            }
            return true
        } catch {
            let attempts = row.attempts + 1
            let message = String("\(error)".prefix(500))
            let givenUp = attempts >= Self.attemptsMax || error is AppError
            let next = now + min(Int64(1) << min(attempts, 12), 3_600) * 1_000
            try await self.database.write { db in
                try await db.raw("""
                    UPDATE mail_outbox SET attempts = \(bind: attempts), next_attempt_at_ms = \(bind: next), lease_until_ms = NULL,
                        last_error = \(bind: message), failed_at_ms = \(bind: givenUp ? now : nil as Int64?),
                        body = CASE WHEN \(bind: givenUp ? 1 : 0) = 1 THEN '' ELSE body END
                    WHERE id = \(bind: row.id)
                    """).run()
            }
            if givenUp {
                self.logger.error("mail given up", metadata: ["id": "\(row.id)", "purpose": "\(row.purpose)", "error": "\(message)"])
            } else {
                self.logger.warning("mail not sent; trying again", metadata: ["id": "\(row.id)", "attempts": "\(attempts)", "error": "\(message)"])
            }
            return false
        }
    }

    public func run() async throws {
        repeat {
            do { try await self.drain() } catch {
                self.logger.error("mail relay round failed", metadata: ["error": "\(error)"])
            }
        } while await Periodic.wait(.milliseconds(self.pollIntervalMillis))
    }
}
