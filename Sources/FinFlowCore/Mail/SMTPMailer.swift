import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Where and how to reach an SMTP server, read from `FINFLOW_SMTP_URL`:
/// `smtp://[user:password@]host[:587]` upgrades with STARTTLS and refuses a server that does not offer it;
/// `smtps://…[:465]` speaks TLS from the start; `smtp+plain://…[:25]` sends in the clear, for a relay on the same host.
public struct SMTPAddress: Sendable, Equatable {
    public enum Security: String, Sendable { case startTLS, implicitTLS, none }

    public let host: String
    public let port: Int
    public let security: Security
    public let username: String?
    public let password: String?

    /// The address `url` names, or nil when it is not one of the three forms.
    public init?(url: String) {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
            components.path.isEmpty || components.path == "/"
        else { return nil }
        switch components.scheme {
        case "smtp": (self.security, self.port) = (.startTLS, components.port ?? 587)
        case "smtps": (self.security, self.port) = (.implicitTLS, components.port ?? 465)
        case "smtp+plain": (self.security, self.port) = (.none, components.port ?? 25)
        default: return nil
        }
        guard (1...65_535).contains(self.port) else { return nil }
        self.host = host
        self.username = components.user?.removingPercentEncoding
        self.password = components.password?.removingPercentEncoding
    }
}

/// An SMTP client (RFC 5321) that sends one message per connection: EHLO, STARTTLS (verifying the server's certificate
/// and name), AUTH PLAIN when credentials are given, MAIL/RCPT/DATA with dot-stuffing, QUIT. A 5xx answer is a refusal
/// (an `AppError`: the relay gives the message up); anything else that fails is transient.
public struct SMTPMailer: MailSender {
    let address: SMTPAddress
    /// `From:` and the envelope sender.
    let from: String
    /// PEM trust roots for a server with a private CA; the system's roots when nil.
    let trustRootsFile: String?
    /// Longest wait for any one answer.
    static let answerTimeout: TimeAmount = .seconds(30)
    /// Longest line an answer may carry.
    static let lineBytesMax = 4_096
    /// Most lines kept unread (an EHLO answer has a dozen).
    static let answerLinesMax = 256

    /// A mailer sending through `address` as `from`.
    public init(address: SMTPAddress, from: String, trustRootsFile: String? = nil) {
        self.address = address
        self.from = from
        self.trustRootsFile = trustRootsFile
    }

    public var summary: String {
        let security = switch self.address.security {
        case .startTLS: "STARTTLS"
        case .implicitTLS: "TLS"
        case .none: "no TLS"
        }
        return "mail: sent through SMTP \(self.address.host):\(self.address.port) (\(security)) from \(self.from)"
    }

    /// A temporary failure: the connection, a timeout, a 4xx answer.
    struct Transient: Error, CustomStringConvertible {
        let description: String
    }

    public func send(_ message: MailMessage) async throws {
        let lines = LineReader()
        let tls = self.address.security == .implicitTLS ? try self.tlsContext() : nil
        let hostname = self.verifiedHostname
        // The reader (and TLS from the start) are in place before the first byte arrives: the greeting can come at once.
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: hostname)) }
                    try channel.pipeline.syncOperations.addHandler(lines)
                }
            }
            .connect(host: self.address.host, port: self.address.port)
            .get()
        do {
            try await self.expect(220, lines.next(on: channel))
            var capabilities = try await self.ehlo(channel, lines)
            if self.address.security == .startTLS {
                guard capabilities.contains("STARTTLS") else { throw Transient(description: "the server does not offer STARTTLS") }
                try await self.command("STARTTLS", expect: 220, channel, lines)
                try await self.startTLS(on: channel)
                capabilities = try await self.ehlo(channel, lines)
            }
            if let username = self.address.username {
                let token = Data("\u{0}\(username)\u{0}\(self.address.password ?? "")".utf8).base64EncodedString()
                try await self.command("AUTH PLAIN \(token)", expect: 235, channel, lines)
            }
            try await self.command("MAIL FROM:<\(Self.bareAddress(self.from))>", expect: 250, channel, lines)
            try await self.command("RCPT TO:<\(message.to)>", expect: 250, channel, lines)
            try await self.command("DATA", expect: 354, channel, lines)
            try await self.write(Self.data(message, from: self.from), channel)
            try await self.expect(250, lines.next(on: channel))
            try? await self.command("QUIT", expect: 221, channel, lines)
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
    }

    private func startTLS(on channel: any Channel) async throws {
        let (context, hostname) = (try self.tlsContext(), self.verifiedHostname)
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: hostname), position: .first)
        }.get()
    }

    /// TLS verifying the server's certificate against `trustRootsFile` (or the system's roots).
    private func tlsContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let file = self.trustRootsFile { configuration.trustRoots = .file(file) }
        return try NIOSSLContext(configuration: configuration)
    }

    /// The name the server's certificate must carry (an address is checked against the certificate's IP entries).
    private var verifiedHostname: String? { Self.isIPAddress(self.address.host) ? nil : self.address.host }

    private func ehlo(_ channel: any Channel, _ lines: LineReader) async throws -> Set<String> {
        try await self.write("EHLO finflow\r\n", channel)
        let answer = try await lines.next(on: channel)
        try self.expect(250, answer)
        return Set(answer.lines.dropFirst().map { String($0.split(separator: " ").first ?? "").uppercased() })
    }

    private func command(_ text: String, expect code: Int, _ channel: any Channel, _ lines: LineReader) async throws {
        try await self.write(text + "\r\n", channel)
        try self.expect(code, try await lines.next(on: channel))
    }

    private func write(_ text: String, _ channel: any Channel) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(string: text)).get()
    }

    private func expect(_ code: Int, _ answer: LineReader.Answer) throws {
        guard answer.code != code else { return }
        let text = "SMTP \(answer.code): \(answer.lines.joined(separator: " ").prefix(300))"
        if (500..<600).contains(answer.code) { throw AppError(.rejected, code: "mail-refused", text) }
        throw Transient(description: text)
    }

    /// The message as DATA carries it: headers, a blank line, the body base64-encoded in lines of 76, the final dot.
    static func data(_ message: MailMessage, from: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let subject = message.subject.allSatisfy(\.isASCII)
            ? message.subject : "=?UTF-8?B?\(Data(message.subject.utf8).base64EncodedString())?="
        let domain = Self.bareAddress(from).split(separator: "@").last.map(String.init) ?? "finflow"
        let body = Data(message.body.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        // Base64 lines never start with a dot, so no line needs stuffing.
        return [
            "From: \(from)", "To: <\(message.to)>", "Subject: \(subject)", "Date: \(formatter.string(from: Date()))",
            "Message-ID: <\(message.id)@\(domain)>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64", "", body, ".", "",
        ].joined(separator: "\r\n")
    }

    /// `name@domain` of `Name <name@domain>` or of a bare address.
    static func bareAddress(_ text: String) -> String {
        guard let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close else { return text }
        return String(text[text.index(after: open)..<close])
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.allSatisfy { $0.isNumber || $0 == "." } || host.contains(":")
    }
}

/// Reads SMTP answers off a channel: lines ending in CRLF, a multi-line answer continuing while its code is followed
/// by `-`. One answer is awaited at a time.
final class LineReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    /// One answer: its code and its lines' text.
    struct Answer: Sendable {
        let code: Int
        let lines: [String]
    }

    private var buffer = ""
    private var lines: [String] = []
    private var waiting: EventLoopPromise<Answer>?
    private var failure: (any Error)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.buffer += bytes.readString(length: bytes.readableBytes) ?? ""
        while let end = self.buffer.range(of: "\r\n") {
            self.lines.append(String(self.buffer[..<end.lowerBound]))
            self.buffer.removeSubrange(..<end.upperBound)
        }
        // A server that floods lines or never ends one is dropped, not buffered without bound.
        if self.buffer.utf8.count > SMTPMailer.lineBytesMax || self.lines.count > SMTPMailer.answerLinesMax {
            self.fail(SMTPMailer.Transient(description: "the SMTP server sent more than an answer can hold"))
        }
        self.deliver()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(SMTPMailer.Transient(description: "the SMTP server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        self.failure = self.failure ?? error
        self.waiting?.fail(error)
        self.waiting = nil
    }

    /// Completes the waiting promise when a whole answer has arrived.
    private func deliver() {
        guard let promise = self.waiting else { return }
        guard let last = self.lines.firstIndex(where: { $0.count < 4 || Array($0)[3] != "-" }) else { return }
        let answer = Array(self.lines[...last])
        self.lines.removeSubrange(...last)
        self.waiting = nil
        guard let code = Int(answer[last].prefix(3)) else {
            promise.fail(SMTPMailer.Transient(description: "not an SMTP answer: \(answer[last].prefix(80))"))
            return
        }
        promise.succeed(Answer(code: code, lines: answer.map { String($0.dropFirst(min(4, $0.count))) }))
    }

    /// The next whole answer, or the connection's failure, within the answer timeout.
    func next(on channel: any Channel) async throws -> Answer {
        let promise = channel.eventLoop.makePromise(of: Answer.self)
        channel.eventLoop.execute {
            if let failure = self.failure {
                promise.fail(failure)
                return
            }
            self.waiting = promise
            self.deliver()
        }
        let timeout = channel.eventLoop.scheduleTask(in: SMTPMailer.answerTimeout) {
            // Only if this wait is still open: a promise completes once.
            guard let waiting = self.waiting, waiting.futureResult === promise.futureResult else { return }
            self.fail(SMTPMailer.Transient(description: "no SMTP answer within \(SMTPMailer.answerTimeout.nanoseconds / 1_000_000_000) s"))
        }
        defer { timeout.cancel() }
        return try await promise.futureResult.get()
    }
}
