import Foundation

/// Per-column statistics gathered in one pass: counts, numeric moments (Welford), distinct
/// values exactly up to a bound and estimated beyond it (k minimum values sketch).
struct ColumnAccumulator {
    var nonNull = 0
    var nulls = 0
    var numeric = 0
    var integers = 0
    var booleans = 0
    var dates = 0
    var totalLength = 0
    var increasing = true
    var lastInteger: Double = -.infinity
    var mean = 0.0
    var m2 = 0.0
    var minimum = Double.infinity
    var maximum = -Double.infinity
    var counts: [String: Int] = [:]
    var exact = true
    var sketch = DistinctSketch()

    static let booleanTokens: Set<String> = ["true", "false", "yes", "no", "t", "f", "y", "n"]

    mutating func add(_ raw: String) {
        if MissingValues.isMissing(raw) { nulls += 1; return }
        let value = Text.trim(raw)
        nonNull += 1
        totalLength += value.utf8.count
        if let number = NumberParsing.double(value) {
            numeric += 1
            if number == number.rounded(), abs(number) < 1e15, !value.contains("e"), !value.contains("E") {
                integers += 1
                if number <= lastInteger { increasing = false }
                lastInteger = number
            } else {
                increasing = false
            }
            let delta = number - mean
            mean += delta / Double(numeric)
            m2 += delta * (number - mean)
            minimum = Swift.min(minimum, number)
            maximum = Swift.max(maximum, number)
        } else {
            increasing = false
            if Self.booleanTokens.contains(value.lowercased()) { booleans += 1 }
            else if DateParsing.days(value) != nil { dates += 1 }
        }
        sketch.add(value)
        if exact {
            counts[value, default: 0] += 1
            if counts.count > DatasetProfile.exactDistinctBound { exact = false }
        } else if numeric < nonNull, counts[value] != nil {
            // Past the bound only text columns keep counting their known values (top values);
            // numbers report min/max/mean/std instead.
            counts[value]! += 1
        }
    }

    var distinctCount: Int { exact ? counts.count : Swift.max(sketch.estimate, counts.count) }

    func inferType(rows: Int, name: String, isTarget: Bool) -> ColumnType {
        guard nonNull > 0 else { return .categorical }
        let unique = distinctCount
        let uniquePerRow = unique == rows && rows >= 20
        if numeric == nonNull {
            if integers == nonNull {
                // Integers unique per row are identifiers when they count up or are named like one.
                if !isTarget && uniquePerRow && (increasing || Self.looksLikeIdentifier(name)) { return .identifier }
                return .integer
            }
            return .float
        }
        if booleans == nonNull { return .boolean }
        if dates == nonNull { return .datetime }
        if isTarget { return .categorical }
        if uniquePerRow { return totalLength / nonNull > 40 ? .text : .identifier }
        if unique > 50 && totalLength / nonNull > 40 && unique * 2 > nonNull { return .text }
        return .categorical
    }

    static func looksLikeIdentifier(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == "id" || lowered.hasSuffix("_id") || lowered.hasSuffix("id") && lowered.count <= 8
            || lowered == "index" || lowered == "key" || lowered == "uuid"
    }

    func profile(name: String, type: ColumnType, role: String, dropReason: String?) -> ColumnProfile {
        let isNumber = type == .integer || type == .float
        let top: [ValueCount]? = isNumber ? nil : counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(10).map { ValueCount(value: $0.key, count: $0.value) }
        return ColumnProfile(
            name: name, dtype: type, nullCount: nulls, uniqueCount: distinctCount, uniqueExact: exact,
            min: isNumber ? minimum : nil, max: isNumber ? maximum : nil, mean: isNumber ? mean : nil,
            std: isNumber ? (numeric > 1 ? (m2 / Double(numeric - 1)).squareRoot() : 0) : nil,
            topValues: top, role: role, dropReason: dropReason)
    }
}

/// Estimates the number of distinct values from the k smallest 64-bit hashes seen.
struct DistinctSketch {
    static let k = 1024
    private var smallest: [UInt64] = []  // sorted ascending, distinct

    mutating func add(_ value: String) {
        let hash = Self.hash(value)
        if smallest.count == Self.k, hash >= smallest[smallest.count - 1] { return }
        var low = 0, high = smallest.count
        while low < high {
            let mid = (low + high) / 2
            if smallest[mid] < hash { low = mid + 1 } else { high = mid }
        }
        if low < smallest.count && smallest[low] == hash { return }
        smallest.insert(hash, at: low)
        if smallest.count > Self.k { smallest.removeLast() }
    }

    var estimate: Int {
        guard smallest.count == Self.k else { return smallest.count }
        let fraction = Double(smallest[Self.k - 1]) / Double(UInt64.max)
        return Int((Double(Self.k - 1) / fraction).rounded())
    }

    /// FNV-1a followed by a SplitMix64 finaliser, so nearby strings spread over the range.
    static func hash(_ value: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}

enum NumberParsing {
    /// A decimal number as written in CSV files; no hex, no "inf"/"nan" words.
    @inline(__always) static func double(_ text: String) -> Double? {
        guard let first = text.utf8.first,
              first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".") || (first >= 48 && first <= 57)
        else { return nil }
        guard let value = Double(text), value.isFinite else { return nil }
        if text.utf8.contains(where: { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") }) { return nil }
        return value
    }
}

enum DateParsing {
    /// Days since 1970-01-01 for ISO dates `YYYY-MM-DD`, optionally followed by a time.
    static func days(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard digit >= 0 && digit <= 9 else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var fraction = 0.0
        if bytes.count > 10 {
            guard bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "), bytes.count >= 16,
                  let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = number(14..<16) else { return nil }
            var second = 0
            if bytes.count >= 19, bytes[16] == UInt8(ascii: ":"), let s = number(17..<19) { second = s }
            fraction = Double(hour * 3600 + minute * 60 + second) / 86400
        }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Double(era * 146_097 + doe - 719_468) + fraction
    }
}
