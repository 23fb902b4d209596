import WarehouseCore
import WarehouseFormats

/// Puts what detection found into a version record, never over what the uploader gave.
enum Detection {
    /// `given` is the framework the uploader named (kept even when the bytes disagree, with a
    /// warning). With `fillOnly`, the framework is left alone (a file added to a version).
    static func apply(_ analysis: VersionAnalysis, to record: inout ModelVersionRecord, given: Framework?,
                      fillOnly: Bool = false) {
        var warnings = analysis.warnings
        if !fillOnly {
            if let given {
                record.framework = given
                if analysis.framework != .other, analysis.framework != given {
                    warnings.append("framework '\(given.rawValue)' was given, but the files look like '\(analysis.framework.rawValue)'")
                }
            } else {
                record.framework = analysis.framework
            }
        }
        if record.numParameters == nil { record.numParameters = analysis.numParameters }
        if record.inputShape == nil { record.inputShape = analysis.inputShape }
        if record.outputShape == nil { record.outputShape = analysis.outputShape }
        if record.dependencies.isEmpty { record.dependencies = analysis.dependencies }
        if record.description == nil { record.description = analysis.description }
        for (key, value) in analysis.details where record.customMetadata[key] == nil {
            record.customMetadata[key] = value
        }
        if !warnings.isEmpty {
            var existing: [JSONValue] = []
            if case .array(let items)? = record.customMetadata["warnings"] { existing = items }
            record.customMetadata["warnings"] = .array(existing + warnings.prefix(50).map(JSONValue.string))
        }
    }
}
