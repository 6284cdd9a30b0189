import HTTPTypes
import Hummingbird
import Synchronization

extension ResponseBody {
    /// The whole body in one buffer; throws a 500-class error when it exceeds `bytesMax`.
    public consuming func collected(upTo bytesMax: Int) async throws -> ByteBuffer {
        let sink = CollectingSink()
        try await self.write(CollectingWriter(sink: sink, bytesMax: bytesMax))
        return sink.buffer.withLock { $0 }
    }
}

private final class CollectingSink: Sendable {
    let buffer = Mutex(ByteBuffer())
}

/// A response writer that keeps what is written, up to a bound.
private struct CollectingWriter: ResponseBodyWriter {
    let sink: CollectingSink
    let bytesMax: Int

    struct TooLarge: Error {}

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        try self.sink.buffer.withLock { collected in
            guard collected.readableBytes + buffer.readableBytes <= self.bytesMax else { throw TooLarge() }
            collected.writeBuffer(&buffer)
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
