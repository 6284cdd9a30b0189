import CFinFlowSystem
import Foundation
import Synchronization

/// A program a test starts, through `posix_spawn`, and not Foundation's `Process`. On Linux that one crashed the test
/// process now and then (it reads `/proc/self/fd` to close descriptors in the child, past its buffer's end), learnt
/// of an exit through a socket that a process spawned meanwhile by another test could inherit and hold open, and so
/// left a waiting test hung for good.
///
/// The child gets `/dev/null` as input, its output and errors go to one file (appended) or to `/dev/null`, and every
/// other descriptor of the test process is closed in it: it inherits no database file, socket or pipe of another
/// test. Signals start at their defaults and unblocked (the test process blocks some for the service lifecycle).
/// The exit is read with `waitpid`, polled, so no thread is held while waiting.
final class ChildProcess: Sendable {
    let pid: pid_t
    let program: String
    /// The exit status once the child has ended and was reaped: the code it exited with, or 128 plus the signal.
    private let ended = Mutex<Int32?>(nil)

    struct SpawnFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts `program` (a path, or a name looked up on `PATH`) with `arguments` and exactly `environment`. Its errors
    /// go where its output goes, or nowhere when `keepErrors` is false.
    init(
        _ program: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        output: String? = nil, keepErrors: Bool = true
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if keepErrors {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        guard finflow_spawn_close_from(&actions, 3) == 0 else {
            throw SpawnFailed(description: "this C library cannot close a child's inherited descriptors (glibc 2.34 or later can)")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let result = posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnFailed(description: "\(program) could not be started: \(String(cString: strerror(result)))")
        }
        self.pid = pid
        self.program = program
    }

    /// The exit status if the child has ended (reaping it), else nil.
    var exitStatus: Int32? {
        self.ended.withLock { ended in
            if ended == nil {
                var raw: Int32 = 0
                let answer = waitpid(self.pid, &raw, WNOHANG)
                if answer == self.pid {
                    // WIFEXITED / WEXITSTATUS / WTERMSIG, which are macros Swift does not import.
                    ended = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                } else if answer < 0, errno != EINTR {
                    ended = -1
                }
            }
            return ended
        }
    }

    var hasExited: Bool { self.exitStatus != nil }

    /// Waits for the exit and answers its status, without holding a thread.
    func waitForExit() async throws -> Int32 {
        while true {
            if let status = self.exitStatus { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends `signal` unless the child has ended (its pid may then be another process's).
    func send(_ signal: Int32) {
        if !self.hasExited { kill(self.pid, signal) }
    }

    /// Runs `program` to its end and answers its status and everything it wrote (its output alone when `keepErrors`
    /// is false).
    static func run(
        _ program: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment, keepErrors: Bool = true
    ) async throws -> (status: Int32, output: String) {
        let output = NSTemporaryDirectory() + "finflow-run-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: output) }
        let child = try ChildProcess(program, arguments, environment: environment, output: output, keepErrors: keepErrors)
        let status = try await child.waitForExit()
        return (status, String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self))
    }
}
