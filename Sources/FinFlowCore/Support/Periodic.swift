import ServiceLifecycle

/// Background work repeated at an interval until the process shuts down. The wait between rounds ends as soon as a
/// graceful shutdown begins, so a service with a long interval never holds the shutdown up.
public enum Periodic {
    /// Waits `interval`; false when a graceful shutdown or cancellation ended the wait (stop working then).
    public static func wait(_ interval: Duration) async -> Bool {
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return false }
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            return !Task.isShuttingDownGracefully
        } catch {
            return false
        }
    }

    /// Waits `interval` or until `wakeup` is signalled; false when a graceful shutdown or cancellation ended the wait.
    /// `woken` tells whether the signal ended it.
    public static func wait(_ interval: Duration, wakeup: OutboxWakeup, woken: inout Bool) async -> Bool {
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return false }
        woken = await cancelWhenGracefulShutdown { await wakeup.wait(timeout: interval) }
        return !Task.isShuttingDownGracefully && !Task.isCancelled
    }
}
