import FinFlowCore
import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// A server child channel that answers a connection whose first request cannot be parsed, or does not arrive within
/// `firstRequestTimeout`, around `inner`.
///
/// Behind the WebSocket upgrade, a decoding error before the first request head went unanswered: a garbled request
/// line, a header name with a space in it, a header block over its 80 KB limit. The connection then stayed open, with
/// no idle timeout, until the client gave up, and every such connection held a descriptor of the process that runs
/// every service. `MalformedRequestResponder`, placed right after the request decoder, answers the error with a
/// problem and closes. Errors in later requests of a connection are answered by the HTTP handler itself. A connection
/// that sends nothing, or its first request's head too slowly, was as lasting: it now gets a 408 at the deadline.
struct AnsweringMalformedRequests<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let ids: IdentifierGenerator
    let firstRequestTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        self.inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let responder = MalformedRequestResponder(ids: self.ids, firstRequestTimeout: self.firstRequestTimeout, logger: logger)
            try pipeline.addHandler(responder, position: .after(decoder.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await self.inner.handle(value: value, logger: logger)
    }
}

/// Answers a request the decoder refused before any part of it was read: 431 for headers over the limit, 400 for
/// anything else, as a problem document with `Connection: close`; and 408 when no request head arrived within
/// `firstRequestTimeout`. It then closes its side of the connection and the
/// whole connection once the client has closed its own, or after `drainSeconds` (closing at once, with the client's
/// bytes still unread, could reset the connection before the client read the answer). It leaves the pipeline at the
/// first part of a request that decodes, so it never touches a request it did not answer.
final class MalformedRequestResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = HTTPServerResponsePart

    static let drainSeconds: Int64 = 2
    private let ids: IdentifierGenerator
    private let firstRequestTimeout: TimeAmount
    private let logger: Logger
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(ids: IdentifierGenerator, firstRequestTimeout: TimeAmount, logger: Logger) {
        self.ids = ids
        self.firstRequestTimeout = firstRequestTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.deadline = context.eventLoop.scheduleTask(in: self.firstRequestTimeout) {
            let (handler, context) = loopBound.value
            handler.answer(context: context, status: .requestTimeout, error: AppError(
                .invalidInput, code: "request-timeout", "no request arrived on this connection within \(handler.firstRequestTimeout.nanoseconds / 1_000_000_000) s"))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        self.deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.answered else { return }
        self.deadline?.cancel()
        self.deadline = nil
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let (status, appError) = Self.problem(for: parserError)
        self.answer(context: context, status: status, error: appError)
    }

    /// Writes the problem for `error` with `status`, then closes (once).
    private func answer(context: ChannelHandlerContext, status: HTTPResponseStatus, error appError: AppError) {
        guard !self.answered else { return }
        self.answered = true
        self.deadline?.cancel()
        self.deadline = nil
        let requestId = self.ids.nextString()
        self.logger.notice(
            "malformed request refused",
            metadata: ["request_id": .string(requestId), "error": .string(appError.code), "status": .stringConvertible(status.code)])
        var problem = Problem(error: appError, requestId: requestId, instance: nil)
        problem.status = Int(status.code)
        problem.title = status.reasonPhrase
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(problem)) ?? Data("{}".utf8)
        let headers = HTTPHeaders([
            ("Content-Type", Problem.mediaType), ("Content-Length", String(body.count)), ("Connection", "close"),
            ("X-Request-Id", requestId),
        ])
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(Self.drainSeconds)) { channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client closed its side after reading the answer: nothing more will come, so the connection ends now.
        if self.answered, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The status and problem for a decoding error.
    static func problem(for error: HTTPParserError) -> (HTTPResponseStatus, AppError) {
        if error == .headerOverflow {
            return (
                .requestHeaderFieldsTooLarge,
                AppError(.invalidInput, code: "request-headers-too-large", "the request's header fields exceed the limits: 80 KB for one, 80 KB for all, 1,000 in number")
            )
        }
        return (.badRequest, AppError(.invalidInput, code: "malformed-request", "the request is not valid HTTP/1.1 (\(error))"))
    }
}
