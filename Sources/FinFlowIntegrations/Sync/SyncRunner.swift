import FinFlowCore
import Foundation
import Logging
import ServiceLifecycle

/// Applies the providers' change notifications (a run queued per connection they name), carries queued sync runs
/// through, and resumes runs whose process died or whose provider asked for a pause: a few
/// at once, each connection's calls held within its provider's limits by its limiter.
struct SyncRunner: ScheduledWork {
    let desk: SyncDesk
    let logger: Logger

    static let intervalSeconds = 5
    /// Runs carried at once by this process.
    static let concurrencyMax = 4

    func runDue() async throws -> Int {
        _ = try await self.desk.applyNotifications()
        _ = try await self.desk.queueWanted()
        let due = try await self.desk.claimDue(limit: Self.concurrencyMax)
        await withTaskGroup(of: Void.self) { group in
            for claimed in due { group.addTask { await self.desk.carry(claimed) } }
        }
        return due.count
    }

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do { _ = try await self.runDue() } catch {
                self.logger.warning("sync runs could not be read", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Pushes the ledger entries due to the providers' books, apart from the sync runs (a connection held to Xero's 60 calls
/// a minute pushing a year of entries never holds up another's sync): a pass that found work is followed at once by the
/// next, an idle one waits `intervalSeconds`.
struct PushRunner: ScheduledWork {
    let desk: SyncDesk
    let logger: Logger

    static let intervalSeconds = 2

    func runDue() async throws -> Int {
        try await self.desk.pushDue()
    }

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do {
                while try await self.runDue() > 0 { try Task.checkCancellation() }
            } catch is CancellationError {
                return
            } catch {
                self.logger.warning("pushes could not be read", metadata: ["error": "\(error)"])
            }
        }
    }
}
