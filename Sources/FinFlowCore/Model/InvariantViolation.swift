/// Stored data that breaks an invariant the code keeps (books that do not balance, a row no write can make): the
/// request that met it fails with a logged 500 naming it, and the process goes on serving every other request.
public struct InvariantViolation: Error, Sendable, CustomStringConvertible {
    /// What was found, for the log.
    public let message: String

    /// A violation described by `message`.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "invariant violated: \(self.message)" }

    /// Throws a violation described by `message` unless `condition` holds.
    public static func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw InvariantViolation(message()) }
    }
}
