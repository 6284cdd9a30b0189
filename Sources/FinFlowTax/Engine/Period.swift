import FinFlowCore

/// When a rule is in force: from its first day (inclusive) to the day it stops (exclusive), or open-ended.
struct Period: Sendable, Hashable, Codable {
    let from: CalendarDay
    let to: CalendarDay?

    /// Whether the rule is in force on `day`.
    func contains(_ day: CalendarDay) -> Bool {
        self.from <= day && (self.to.map { day < $0 } ?? true)
    }

    init(from: CalendarDay, to: CalendarDay?) {
        self.from = from
        self.to = to
    }

    private enum CodingKeys: String, CodingKey { case from, to }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let fromText = try container.decode(String.self, forKey: .from)
        let toText = try container.decodeIfPresent(String.self, forKey: .to)
        guard let from = CalendarDay(fromText) else {
            throw DecodingError.dataCorruptedError(forKey: .from, in: container, debugDescription: "'\(fromText)' is not YYYY-MM-DD")
        }
        var to: CalendarDay?
        if let toText {
            guard let day = CalendarDay(toText), from < day else {
                throw DecodingError.dataCorruptedError(forKey: .to, in: container, debugDescription: "'\(toText)' is not a day after 'from'")
            }
            to = day
        }
        self.init(from: from, to: to)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.from.description, forKey: .from)
        try container.encodeIfPresent(self.to?.description, forKey: .to)
    }
}
