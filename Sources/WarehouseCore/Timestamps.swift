import Foundation

/// Timestamps as the API shows them: ISO 8601 in UTC with milliseconds.
public enum Timestamps {
    public static func now() -> String {
        string(from: Date())
    }

    public static func string(from date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true)
            .timeSeparator(.colon).timeZone(separator: .omitted))
    }
}

extension Timestamps {
    /// An instant a filter names, to the millisecond the API stores: `exact` is false when the
    /// text had finer digits, which `milliseconds` then rounds down.
    public struct Instant: Equatable, Sendable {
        public let milliseconds: Int64
        public let exact: Bool

        /// In the form every stored timestamp has (`2026-12-05T21:03:16.890Z`), so that text
        /// comparison is instant comparison.
        public var canonical: String {
            let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
            let inDay = milliseconds - days * 86_400_000
            let (year, month, day) = Timestamps.civil(days: days)
            func pad(_ value: Int64, _ width: Int) -> String {
                let digits = String(value)
                return String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(inDay / 3_600_000, 2)):\(pad(inDay / 60_000 % 60, 2))"
                + ":\(pad(inDay / 1000 % 60, 2)).\(pad(inDay % 1000, 3))Z"
        }
    }

    /// Reads `2026-12-05`, `2026-12-05T21:03`, `2026-12-05T21:03:16`, `…16.890123`, with `Z`,
    /// `+01:00`, `+0100` or no zone (UTC), `T` or a space between date and time. Nil for
    /// anything else, and for years outside 0001…9999.
    public static func instant(_ text: String) -> Instant? {
        var scanner = Array(text.utf8)[...]
        func number(_ width: Int) -> Int64? {
            guard scanner.count >= width else { return nil }
            var value: Int64 = 0
            for byte in scanner.prefix(width) {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            scanner = scanner.dropFirst(width)
            return value
        }
        func take(_ character: Character) -> Bool {
            guard scanner.first == character.asciiValue else { return false }
            scanner = scanner.dropFirst()
            return true
        }
        guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2),
              (1...9999).contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        var milliseconds = days(year: year, month: month, day: day) * 86_400_000
        var exact = true
        if take("T") || take("t") || take(" ") {
            guard let hour = number(2), take(":"), let minute = number(2), hour < 24, minute < 60 else { return nil }
            milliseconds += hour * 3_600_000 + minute * 60_000
            if take(":") {
                guard let second = number(2), second < 60 else { return nil }
                milliseconds += second * 1000
                if take(".") || take(",") {
                    var digits = 0
                    var fraction: Int64 = 0
                    while let byte = scanner.first, byte >= 48, byte <= 57 {
                        if digits < 3 { fraction = fraction * 10 + Int64(byte - 48) } else if byte != 48 { exact = false }
                        digits += 1
                        scanner = scanner.dropFirst()
                    }
                    guard digits > 0 else { return nil }
                    for _ in digits..<max(digits, 3) { fraction *= 10 }
                    milliseconds += fraction
                }
            }
            if !(take("Z") || take("z")), let sign = scanner.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                scanner = scanner.dropFirst()
                guard let hours = number(2) else { return nil }
                _ = take(":")
                guard let minutes = number(2), hours < 24, minutes < 60 else { return nil }
                let offset = (hours * 60 + minutes) * 60_000
                milliseconds += sign == UInt8(ascii: "+") ? -offset : offset
            }
        }
        guard scanner.isEmpty else { return nil }
        return Instant(milliseconds: milliseconds, exact: exact)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day since 1970-01-01 (civil_from_days).
    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
