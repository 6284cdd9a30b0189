import Foundation
import Logging
import SQLKit

/// One message to send: plain text, to one recipient.
public struct MailMessage: Sendable, Equatable {
    public let id: String
    public let to: String
    public let subject: String
    public let body: String
    /// What it is for (`verify-email`, `reset-password`, `invitation`): logged, never the body.
    public let purpose: String

    /// A message; throws when a header would carry a line break (header injection) or the address is not one.
    public init(id: String, to: String, subject: String, body: String, purpose: String) throws {
        guard EmailAddress.normalized(to) != nil else { throw AppError.invalid(code: "mail-invalid", "'\(to.prefix(64))' is not an email address") }
        guard !subject.contains(where: \.isNewline), subject.count <= 200, !purpose.contains(where: \.isNewline) else {
            throw AppError.invalid(code: "mail-invalid", "a mail subject is one line of at most 200 characters")
        }
        self.id = id
        self.to = to
        self.subject = subject
        self.body = body
        self.purpose = purpose
    }
}

/// Mail a service sends itself, written to its own database (`mail_outbox`) in the transaction of the change that
/// causes it, and sent by a `MailRelay`: a message that carries a secret (a verification, reset or invitation token)
/// never travels through the event bus or the log, and one written is sent at least once even across a crash.
public struct MailOutbox: Sendable {
    let ids: IdentifierGenerator
    let clock: any FinFlowClock

    /// An outbox naming its messages with `ids`.
    public init(ids: IdentifierGenerator, clock: any FinFlowClock) {
        self.ids = ids
        self.clock = clock
    }

    /// Writes a message in `db`'s transaction; returns its id.
    @discardableResult
    public func enqueue(to: String, subject: String, body: String, purpose: String, on db: any SQLDatabase) async throws -> String {
        let message = try MailMessage(id: self.ids.nextString(), to: to, subject: subject, body: body, purpose: purpose)
        let now = self.clock.nowMillis()
        try await db.raw("""
            INSERT INTO mail_outbox (id, to_address, subject, body, purpose, created_at_ms, attempts, next_attempt_at_ms)
            VALUES (\(bind: message.id), \(bind: message.to), \(bind: message.subject), \(bind: message.body), \(bind: message.purpose),
                    \(bind: now), 0, \(bind: now))
            """).run()
        return message.id
    }
}

/// Where mail goes: an SMTP server, or in development a folder the log points at.
public protocol MailSender: Sendable {
    /// Sends `message`; throws when it was not accepted (the relay tries again later).
    func send(_ message: MailMessage) async throws
    /// One line for the start-up log: where mail goes.
    var summary: String { get }
}

/// The development mail channel: each message is written as a file (`<id>.eml`) in a folder, and the log says to whom,
/// what about and which file, never the text (which may hold a token).
public struct MailFolder: MailSender {
    let directory: URL
    let logger: Logger

    /// Messages written under `directory`.
    public init(directory: URL, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    public var summary: String {
        "mail: development channel, nothing is sent: messages are written to \(self.directory.path)/ (set FINFLOW_SMTP_URL to send them)"
    }

    public func send(_ message: MailMessage) async throws {
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let file = self.directory.appendingPathComponent("\(message.id).eml")
        let text = "To: \(message.to)\nSubject: \(message.subject)\nX-FinFlow-Purpose: \(message.purpose)\n\n\(message.body)\n"
        try Data(text.utf8).write(to: file, options: [.atomic])
        self.logger.notice("mail written", metadata: ["to": "\(message.to)", "subject": "\(message.subject)", "purpose": "\(message.purpose)",
                                                      "file": "\(file.path)"])
    }
}
