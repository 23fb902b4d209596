import Foundation

/// HTML built by string interpolation that escapes every interpolated `String` (names,
/// descriptions, tags, column and file names all arrive as Strings): only `HTML` values, made
/// by this code, are inserted as markup. So user text cannot become markup by accident.
struct HTML: ExpressibleByStringInterpolation, Sendable {
    var text: String

    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }
    init(raw: String) { text = raw }

    struct StringInterpolation: StringInterpolationProtocol {
        var text = ""
        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + interpolationCount * 16) }
        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        mutating func appendInterpolation(_ value: String?) { text += HTML.escape(value ?? "") }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
        mutating func appendInterpolation(_ value: Double, digits: Int = 4) { text += HTML.number(value, digits: digits) }
        mutating func appendInterpolation(_ html: HTML) { text += html.text }
        mutating func appendInterpolation(_ list: [HTML]) { for item in list { text += item.text } }
    }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    static func number(_ value: Double, digits: Int = 4) -> String {
        guard value.isFinite else { return value.isNaN ? "–" : (value > 0 ? "∞" : "−∞") }
        if value == value.rounded(), abs(value) < 1e12 { return String(Int64(value)) }
        return String(format: "%.\(digits)g", value)
    }

    static func bytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count), unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// A query-string value.
    static func query(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}

/// Inline SVG charts: no script, no external assets.
enum SVGChart {
    /// Horizontal bars with labels and counts.
    static func bars(_ items: [(label: String, value: Double)], width: Int = 360) -> HTML {
        guard let maximum = items.map(\.value).max(), maximum > 0 else { return "" }
        let rowHeight = 18
        var rows: [HTML] = []
        for (index, item) in items.enumerated() {
            let y = index * rowHeight
            let length = Int(Double(width - 170) * item.value / maximum)
            rows.append("""
                <text x="0" y="\(y + 13)" class="label">\(String(item.label.prefix(18)))</text>\
                <rect x="120" y="\(y + 3)" width="\(max(length, 1))" height="12" class="bar"/>\
                <text x="\(124 + length)" y="\(y + 13)" class="value">\(item.value, digits: 6)</text>
                """)
        }
        return "<svg class=\"chart\" width=\"\(width)\" height=\"\(items.count * rowHeight + 4)\" role=\"img\">\(rows)</svg>"
    }

    /// A numeric column's range: min to max, with the mean and one standard deviation each side.
    static func range(min: Double, max: Double, mean: Double?, std: Double?, width: Int = 360) -> HTML {
        guard max > min else { return "<span class=\"muted\">constant \(min, digits: 6)</span>" }
        func x(_ value: Double) -> Int { 10 + Int(Double(width - 20) * (value - min) / (max - min)) }
        var marks: HTML = ""
        if let mean {
            if let std {
                let low = Swift.max(min, mean - std), high = Swift.min(max, mean + std)
                marks = "<rect x=\"\(x(low))\" y=\"8\" width=\"\(Swift.max(x(high) - x(low), 1))\" height=\"14\" class=\"band\"/>"
            }
            marks = "\(marks)<line x1=\"\(x(mean))\" x2=\"\(x(mean))\" y1=\"4\" y2=\"26\" class=\"mean\"/>"
        }
        return """
            <svg class="chart" width="\(width)" height="44" role="img"><line x1="10" x2="\(width - 10)" y1="15" y2="15" class="axis"/>\(marks)\
            <text x="10" y="40" class="value">\(min, digits: 5)</text><text x="\(width - 10)" y="40" class="value" text-anchor="end">\(max, digits: 5)</text></svg>
            """
    }

    /// A confusion matrix: rows are actual classes, columns predicted; darker is more.
    static func confusion(_ matrix: [[Int]], classes: [String]) -> HTML {
        let size = 34, margin = 90
        let maximum = Swift.max(matrix.flatMap { $0 }.max() ?? 1, 1)
        var cells: [HTML] = []
        for (row, counts) in matrix.enumerated() {
            cells.append("<text x=\"\(margin - 6)\" y=\"\(margin + row * size + 21)\" class=\"label\" text-anchor=\"end\">\(String((row < classes.count ? classes[row] : "").prefix(12)))</text>")
            for (column, count) in counts.enumerated() {
                let shade = Double(count) / Double(maximum)
                cells.append("""
                    <rect x="\(margin + column * size)" y="\(margin + row * size)" width="\(size - 2)" height="\(size - 2)" \
                    fill="rgba(37,99,235,\(HTML(raw: String(format: "%.3f", 0.08 + 0.92 * shade))))"/>\
                    <text x="\(margin + column * size + size / 2 - 1)" y="\(margin + row * size + 21)" class="\(shade > 0.5 ? "cell light" : "cell")" text-anchor="middle">\(count)</text>
                    """)
            }
        }
        for (column, name) in classes.enumerated() {
            cells.append("<text x=\"\(margin + column * size + 16)\" y=\"\(margin - 8)\" class=\"label\" transform=\"rotate(-45 \(margin + column * size + 16) \(margin - 8))\">\(String(name.prefix(12)))</text>")
        }
        let side = margin + classes.count * size + 10
        return "<svg class=\"chart\" width=\"\(side)\" height=\"\(side)\" role=\"img\" aria-label=\"confusion matrix: rows actual, columns predicted\">\(cells)</svg>"
    }

    /// Predicted against actual values, with the diagonal.
    static func scatter(_ pairs: [(actual: Double, predicted: Double)], width: Int = 320) -> HTML {
        guard !pairs.isEmpty else { return "" }
        let values = pairs.flatMap { [$0.actual, $0.predicted] }
        let low = values.min()!, high = values.max()!
        guard high > low else { return "" }
        func position(_ value: Double) -> Double { 30 + Double(width - 40) * (value - low) / (high - low) }
        var points: [HTML] = []
        for pair in pairs.prefix(500) {
            points.append("<circle cx=\(HTML(raw: String(format: "\"%.1f\"", position(pair.actual)))) cy=\(HTML(raw: String(format: "\"%.1f\"", Double(width) - position(pair.predicted)))) r=\"2.5\" class=\"point\"/>")
        }
        return """
            <svg class="chart" width="\(width)" height="\(width)" role="img" aria-label="predicted against actual">\
            <line x1="30" y1="\(width - 30)" x2="\(width - 10)" y2="10" class="axis"/>\(points)\
            <text x="\(width / 2)" y="\(width - 4)" class="label" text-anchor="middle">actual</text>\
            <text x="10" y="\(width / 2)" class="label" transform="rotate(-90 10 \(width / 2))" text-anchor="middle">predicted</text></svg>
            """
    }
}
