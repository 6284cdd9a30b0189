import FinFlowCore

/// The screening indexes of the list versions in use, built once per version (a version never changes) and kept
/// for the most recently used `capacity` versions. Two requests needing the same version wait for one build.
actor ListIndexes {
    /// How many list versions stay indexed in memory.
    static let capacity = 32

    private var built: [String: ScreeningIndex] = [:]
    private var building: [String: Task<ScreeningIndex, any Error>] = [:]
    private var recent: [String] = []
    /// Whether this service's database is known to hold the bundled list, so screenings stop looking.
    private(set) var bundledListStored = false

    func markBundledListStored() {
        self.bundledListStored = true
    }

    /// The index of list version `listId`, built from `load` when it is not held.
    func index(listId: String, load: @escaping @Sendable () async throws -> [ListEntry]) async throws -> ScreeningIndex {
        if let index = self.built[listId] {
            self.touch(listId)
            return index
        }
        if let task = self.building[listId] { return try await task.value }
        let task = Task { ScreeningIndex(entries: try await load()) }
        self.building[listId] = task
        defer { self.building[listId] = nil }
        let index = try await task.value
        self.built[listId] = index
        self.touch(listId)
        while self.recent.count > Self.capacity {
            self.built[self.recent.removeFirst()] = nil
        }
        return index
    }

    /// Holds `index` for list version `listId`, built by whoever stored the version.
    func prime(listId: String, _ index: ScreeningIndex) {
        self.built[listId] = index
        self.touch(listId)
    }

    private func touch(_ listId: String) {
        self.recent.removeAll { $0 == listId }
        self.recent.append(listId)
    }
}
