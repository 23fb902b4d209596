import Foundation

/// Frameworks a version can declare (DESIGN.md upload fields).
public enum Framework: String, CaseIterable, Sendable, Codable {
    case pytorch, tensorflow, sklearn, onnx, keras, huggingface, other

    /// Names people commonly use for the same frameworks.
    static let aliases: [String: Framework] = [
        "torch": .pytorch, "scikit-learn": .sklearn, "scikit_learn": .sklearn, "tf": .tensorflow,
        "transformers": .huggingface, "hf": .huggingface,
    ]

    public static func parse(_ value: String, field: String = "framework") throws -> Framework {
        let key = value.trimmingCharacters(in: .whitespaces).lowercased()
        guard let framework = Framework(rawValue: key) ?? aliases[key] else {
            throw WarehouseError.invalid(
                "field '\(field)' must be one of \(allCases.map(\.rawValue).joined(separator: ", ")) (got \(Identifiers.quoted(value)))")
        }
        return framework
    }
}

/// Kinds of model (DESIGN.md upload fields).
public enum ModelType: String, CaseIterable, Sendable, Codable {
    case classification, regression, clustering, nlp
    case computerVision = "computer_vision"
    case recommendation
    case timeSeries = "time_series"
    case reinforcementLearning = "reinforcement_learning"
    case other

    public static func parse(_ value: String, field: String = "model_type") throws -> ModelType {
        guard let type = ModelType(rawValue: value.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw WarehouseError.invalid(
                "field '\(field)' must be one of \(allCases.map(\.rawValue).joined(separator: ", ")) (got \(Identifiers.quoted(value)))")
        }
        return type
    }
}

/// Parsing of the loosely typed values that arrive as form fields.
public enum FieldValues {
    /// true/false/1/0/yes/no in any case (Python's `requests` sends `True`).
    public static func bool(_ value: String, field: String) throws -> Bool {
        switch value.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off", "": return false
        default:
            throw WarehouseError.invalid("field '\(field)' must be a boolean (true/false, 1/0, yes/no), got \(Identifiers.quoted(value))")
        }
    }

    /// A finite number.
    public static func double(_ value: String, field: String) throws -> Double {
        guard let number = Double(value.trimmingCharacters(in: .whitespaces)), number.isFinite else {
            throw WarehouseError.invalid("field '\(field)' must be a number, got \(Identifiers.quoted(value))")
        }
        return number
    }

    /// Comma-separated tags: trimmed, empty ones dropped, duplicates removed (case-insensitively), order kept.
    public static func tags(_ value: String) throws -> [String] {
        try normalizedTags(value.split(separator: ",").map(String.init))
    }

    public static func normalizedTags(_ values: [String]) throws -> [String] {
        var seen = Set<String>()
        var tags: [String] = []
        for raw in values {
            let tag = raw.trimmingCharacters(in: .whitespaces)
            guard !tag.isEmpty else { continue }
            guard tag.count <= 100, !tag.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw WarehouseError.invalid("tag \(Identifiers.quoted(tag)) must be at most 100 printable characters")
            }
            if seen.insert(tag.lowercased()).inserted { tags.append(tag) }
        }
        guard tags.count <= 100 else { throw WarehouseError.invalid("at most 100 tags are allowed (got \(tags.count))") }
        return tags
    }
}

/// Alias names with a meaning of their own.
public enum Aliases {
    /// The version that serves: promotions move it, `is_production_ready` mirrors it.
    public static let production = "production"
}
