import FinFlowCore
import Foundation
import Logging
import ServiceLifecycle

/// Applies the providers' change notifications (a run queued per connection they name), carries queued sync runs
/// through, resumes runs whose process died or whose provider asked for a pause, and pushes the ledger entries due: a few
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
        let pushed = try await self.desk.pushDue()
        return due.count + pushed
    }

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do { _ = try await self.runDue() } catch {
                self.logger.warning("sync runs could not be read", metadata: ["error": "\(error)"])
            }
        }
    }
}
