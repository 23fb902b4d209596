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
