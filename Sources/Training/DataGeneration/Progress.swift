import Foundation

/// Rate and ETA lines for long jobs: at most one line per `interval` seconds (and always the last one).
public struct ProgressMeter {
    public let label: String
    public let total: Int
    public let interval: Double
    /// What the token rate counts ("generated tokens", "tokens").
    public let tokenUnit: String
    private let start: Double
    private var lastReport: Double
    private let report: (String) -> Void

    public init(label: String, total: Int, interval: Double = 10, tokenUnit: String = "tokens",
                report: @escaping (String) -> Void) {
        self.label = label
        self.tokenUnit = tokenUnit
        self.total = total
        self.interval = interval
        self.report = report
        start = ProgressMeter.now()
        lastReport = start
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    public var elapsed: Double { ProgressMeter.now() - start }

    /// Reports `done` of `total` units and `tokens` tokens so far (this run) when the interval has passed.
    public mutating func update(done: Int, tokens: Int, force: Bool = false) {
        let time = ProgressMeter.now()
        guard force || time - lastReport >= interval else { return }
        lastReport = time
        let seconds = max(time - start, 1e-9)
        let rate = Double(done) / seconds
        let remaining = rate > 0 ? Double(max(total - done, 0)) / rate : .infinity
        let percent = total > 0 ? 100 * Double(done) / Double(total) : 100
        report(String(format: "%@: %d/%d (%.1f%%), %.2f/s, %.0f %@/s, elapsed %@, ETA %@", label, done, total,
                      percent, rate, Double(tokens) / seconds, tokenUnit, ProgressMeter.duration(seconds),
                      ProgressMeter.duration(remaining)))
    }

    /// `1h02m`, `3m05s`, `42s`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
