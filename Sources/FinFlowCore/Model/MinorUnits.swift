/// Overflow-checked arithmetic on minor units for figures worked out from stored rows or outside input (report totals,
/// aggregates, parsed amounts): a sum that leaves 64 bits is refused with `amount-overflow` instead of trapping, which
/// in the embedded process would stop every service.
public enum MinorUnits {
    /// The refusal of a figure that does not fit in 64 bits.
    public static func overflow(_ what: String = "a total") -> AppError {
        AppError(.rejected, code: "amount-overflow", "\(what) exceeds the largest amount (64-bit minor units)")
    }

    /// `a + b`, or `amount-overflow`.
    public static func add(_ a: Int64, _ b: Int64) throws -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw Self.overflow() }
        return sum
    }

    /// `a - b`, or `amount-overflow`.
    public static func subtract(_ a: Int64, _ b: Int64) throws -> Int64 {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        guard !overflow else { throw Self.overflow() }
        return difference
    }

    /// `-a`, or `amount-overflow` for the one value without a negation.
    public static func negate(_ a: Int64) throws -> Int64 {
        guard a != .min else { throw Self.overflow() }
        return -a
    }

    /// The sum of `value` over `items`, or `amount-overflow`. Summed in 128 bits, so only a total that does not fit
    /// is refused, not a partial sum on the way to it.
    public static func sum<S: Sequence>(_ items: S, _ value: (S.Element) throws -> Int64) throws -> Int64 {
        var total: Int128 = 0
        for item in items { total += Int128(try value(item)) }
        return try Self.narrow(total)
    }

    /// A 128-bit figure as 64 bits, or `amount-overflow`.
    public static func narrow(_ value: Int128) throws -> Int64 {
        guard let narrowed = Int64(exactly: value) else { throw Self.overflow() }
        return narrowed
    }
}
