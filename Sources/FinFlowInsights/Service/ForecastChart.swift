import FinFlowCore
import Foundation

/// A forecast drawn as SVG: the recent history as a solid line, the forecast as a dashed one, each interval as a
/// shaded band (the widest palest), the start of the forecast marked, amounts in major units on the left.
enum ForecastChart {
    static let width = 860.0, height = 400.0
    static let left = 96.0, right = 24.0, top = 56.0, bottom = 56.0

    static func svg(_ forecast: StoredForecast) -> String {
        let shown = Array(forecast.history.suffix(max(3 * forecast.horizon, 24)))
        let exponent = Currency(code: forecast.currency)?.exponent ?? 2
        let scale = Foundation.pow(10, Double(exponent))
        var values = shown.map { Double($0.value) } + forecast.points.map { Double($0.mean) }
        for point in forecast.points { for bound in point.bounds { values += [Double(bound.lower), Double(bound.upper)] } }
        var low = values.min() ?? 0, high = values.max() ?? 1
        if high - low < 1 { (low, high) = (low - 1, high + 1) }
        let padding = (high - low) * 0.05
        (low, high) = (low - padding, high + padding)
        let count = shown.count + forecast.points.count
        let plotWidth = Self.width - Self.left - Self.right, plotHeight = Self.height - Self.top - Self.bottom
        func x(_ index: Int) -> Double { Self.left + (count > 1 ? Double(index) / Double(count - 1) : 0.5) * plotWidth }
        func y(_ value: Double) -> Double { Self.top + (high - value) / (high - low) * plotHeight }
        func pair(_ index: Int, _ value: Double) -> String { String(format: "%.1f,%.1f", x(index), y(value)) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(Self.height))" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" font-family="system-ui, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="#ffffff"/>
            <text x="\(Int(Self.left))" y="24" font-size="16" font-weight="600" fill="#111827">\(Self.escape(Self.title(forecast)))</text>
            <text x="\(Int(Self.left))" y="42" fill="#4b5563">\(Self.escape("\(forecast.method), \(forecast.points.count) \(forecast.interval)s ahead; shaded: \(forecast.levels.sorted().map { "\($0) %" }.joined(separator: " and ")) intervals"))</text>

            """
        // Gridlines and amounts.
        for tick in 0...4 {
            let value = low + (high - low) * Double(tick) / 4
            let position = y(value)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>\n", Self.left, position, Self.width - Self.right, position)
            svg += "<text x=\"\(Self.f(Self.left - 8))\" y=\"\(Self.f(position + 4))\" text-anchor=\"end\" fill=\"#6b7280\">\(Self.escape(Self.amount(value / scale)))</text>\n"
        }
        // Bands, widest first.
        let offset = shown.count
        let anchor = shown.last.map { (shown.count - 1, Double($0.value)) }
        for level in forecast.levels.sorted(by: >) {
            var upper: [String] = [], lower: [String] = []
            if let (index, value) = anchor {
                upper.append(pair(index, value))
                lower.append(pair(index, value))
            }
            for (h, point) in forecast.points.enumerated() {
                guard let bound = point.bounds.first(where: { $0.level == level }) else { continue }
                upper.append(pair(offset + h, Double(bound.upper)))
                lower.append(pair(offset + h, Double(bound.lower)))
            }
            let shade = level >= 90 ? "#bfdbfe" : "#93c5fd"
            svg += "<polygon points=\"\((upper + lower.reversed()).joined(separator: " "))\" fill=\"\(shade)\" fill-opacity=\"0.7\" stroke=\"none\"><title>\(level) % interval</title></polygon>\n"
        }
        if !shown.isEmpty {
            let line = shown.enumerated().map { pair($0.offset, Double($0.element.value)) }.joined(separator: " ")
            svg += "<polyline points=\"\(line)\" fill=\"none\" stroke=\"#111827\" stroke-width=\"2\"><title>history</title></polyline>\n"
        }
        var path = anchor.map { [pair($0.0, $0.1)] } ?? []
        path += forecast.points.enumerated().map { pair(offset + $0.offset, Double($0.element.mean)) }
        svg += "<polyline points=\"\(path.joined(separator: " "))\" fill=\"none\" stroke=\"#1d4ed8\" stroke-width=\"2\" stroke-dasharray=\"6 4\"><title>forecast</title></polyline>\n"
        if let first = forecast.points.first {
            let position = x(offset)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\" stroke-dasharray=\"2 3\"/>\n",
                          position, Self.top, position, Self.height - Self.bottom)
            svg += "<text x=\"\(Self.f(position))\" y=\"\(Self.f(Self.height - Self.bottom + 20))\" text-anchor=\"middle\" fill=\"#374151\">\(Self.escape(first.period))</text>\n"
        }
        if let start = shown.first {
            svg += "<text x=\"\(Self.f(Self.left))\" y=\"\(Self.f(Self.height - Self.bottom + 20))\" text-anchor=\"start\" fill=\"#374151\">\(Self.escape(start.period))</text>\n"
        }
        if let end = forecast.points.last {
            svg += "<text x=\"\(Self.f(Self.width - Self.right))\" y=\"\(Self.f(Self.height - Self.bottom + 20))\" text-anchor=\"end\" fill=\"#374151\">\(Self.escape(end.period))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func title(_ forecast: StoredForecast) -> String {
        let metric: String
        switch forecast.metric {
        case "net-cash-flow": metric = "Net cash flow"
        case "cash-balance": metric = "Cash balance"
        case "revenue": metric = "Revenue"
        default: metric = "Expenses"
        }
        let every = ["day": "daily", "week": "weekly", "month": "monthly"][forecast.interval] ?? forecast.interval
        return "\(metric) (\(forecast.currency)), \(every)" + (forecast.accountId.map { ", account \($0)" } ?? "")
    }

    /// An amount in major units with thousands separated, abbreviated past a million.
    static func amount(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1_000_000 { return String(format: "%.1fM", value / 1_000_000) }
        if magnitude >= 10_000 { return String(format: "%.0fk", value / 1_000) }
        return String(format: "%.0f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
