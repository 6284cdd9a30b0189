extension Duration {
    /// The duration in seconds, as a floating-point number (for rates and reports).
    public var inSeconds: Double { Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18 }

    /// The duration in milliseconds, as a floating-point number (for latencies).
    public var inMilliseconds: Double { self.inSeconds * 1_000 }
}
