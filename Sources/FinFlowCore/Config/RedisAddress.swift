import Foundation

/// Where the server is: `redis://[:password@]host:port[/db]`.
public struct RedisAddress: Sendable, Equatable {
    public let host: String
    public let port: Int
    public let password: String?
    public let database: Int

    /// Parses a `redis://` URL; nil when it is not one.
    public init?(url text: String) {
        guard let url = URL(string: text), url.scheme == "redis", let host = url.host, !host.isEmpty else { return nil }
        let port = url.port ?? 6379
        guard (1...65_535).contains(port) else { return nil }
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard path.isEmpty || Int(path).map({ (0...15).contains($0) }) == true else { return nil }
        self.host = host
        self.port = port
        self.password = url.password.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        self.database = Int(path) ?? 0
    }
}
