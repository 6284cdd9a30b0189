import Foundation
import Synchronization

/// A TCP port on 127.0.0.1 that nothing holds now, as the kernel hands them out (bound to port 0, read back, let go),
/// for a server a test starts as another process. A port drawn at random from a fixed range could be one the kernel
/// had already given to one of the suite's hundreds of client connections, and the server then could not bind it.
/// No port is handed out twice in one run: the kernel may give a port it was just given back again, and two suites
/// starting servers at once would then share one (the second server cannot bind, and its readiness probe reaches the
/// first).
enum FreePort {
    private static let handedOut = Mutex<Set<Int>>([])

    static func next() -> Int {
        for _ in 0..<1_000 {
            let port = Self.fromKernel()
            if Self.handedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
        preconditionFailure("the kernel kept handing out ports this run already used")
    }

    private static func fromKernel() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(descriptor >= 0, "no socket for a free port")
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        precondition(bound == 0, "cannot bind a free port")
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
