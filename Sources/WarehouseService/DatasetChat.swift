import Foundation
import WarehouseAutoML
import WarehouseCore
import WarehouseLLM

/// "Ask a dataset": a question answered by a language model from facts the warehouse already
/// holds about the dataset (its profile, its analysis, the models trained from it), numbered
/// and sent as context. No row leaves the server beyond five rows of the profile's sample.
public final class DatasetChat: Sendable {
    public struct Settings: Sendable {
        public var url: String?
        public var model: String?
        public var apiKey: String?
        public init(url: String?, model: String?, apiKey: String?) {
            self.url = url
            self.model = model
            self.apiKey = apiKey
        }
    }

    public struct Question: Sendable {
        public let message: String
        public let history: [ChatCompletions.Message]
        public init(message: String, history: [ChatCompletions.Message]) {
            self.message = message
            self.history = history
        }
    }

    let training: TrainingService
    let client: ChatCompletions?
    static let sampleRows = 5
    static let maxHistory = 20
    static let maxCharacters = 20_000

    public init(training: TrainingService, settings: Settings) {
        self.training = training
        client = settings.url.map { ChatCompletions(baseURL: $0, model: settings.model ?? "default", apiKey: settings.apiKey) }
    }

    func configured() throws -> ChatCompletions {
        guard let client else {
            throw WarehouseError.notConfigured("no language model is configured: set llm_url (WAREHOUSE_LLM_URL) to the base of an "
                + "OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1 for Ollama, with llm_model (WAREHOUSE_LLM_MODEL) and, "
                + "for a hosted one, llm_api_key (WAREHOUSE_LLM_API_KEY)")
        }
        return client
    }

    /// Checks the question; the messages to send and the facts they carry.
    public func prepare(user: String, dataset: String, question: Question) throws -> (messages: [ChatCompletions.Message], facts: [String]) {
        _ = try configured()
        let message = question.message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !message.isEmpty else { throw WarehouseError.invalid("field 'message' is required: the question to ask") }
        guard question.history.count <= Self.maxHistory else {
            throw WarehouseError.invalid("history holds \(question.history.count) messages; at most \(Self.maxHistory) are sent")
        }
        for turn in question.history where !["user", "assistant"].contains(turn.role) {
            throw WarehouseError.invalid("history roles are user or assistant (got \(Identifiers.quoted(turn.role)))")
        }
        let length = message.count + question.history.reduce(0) { $0 + $1.content.count }
        guard length <= Self.maxCharacters else {
            throw WarehouseError.invalid("the question and its history hold \(length) characters; at most \(Self.maxCharacters)")
        }
        let facts = try self.facts(user: user, dataset: dataset)
        let system = """
            You answer questions about one dataset of a model registry, using only the numbered facts below. \
            Cite the facts you use as [n]. If the facts do not hold the answer, say so and say what would be needed; \
            never invent numbers.

            """ + facts.enumerated().map { "[\($0.offset + 1)] \($0.element)" }.joined(separator: "\n")
        return ([ChatCompletions.Message(role: "system", content: system)] + question.history
                    + [ChatCompletions.Message(role: "user", content: message)], facts)
    }

    public func answer(_ messages: [ChatCompletions.Message]) throws -> String {
        try configured().complete(messages)
    }

    public func stream(_ messages: [ChatCompletions.Message], onDelta: @escaping (String) -> Void) throws {
        try configured().stream(messages, onDelta: onDelta)
    }

    /// The fact numbers an answer cites as [n], in order, each once.
    public static func cited(in answer: String, factCount: Int) -> [Int] {
        var numbers: [Int] = []
        var index = answer.startIndex
        while let open = answer[index...].firstIndex(of: "[") {
            let rest = answer[answer.index(after: open)...]
            guard let close = rest.firstIndex(of: "]") else { break }
            for part in rest[..<close].split(separator: ",") {
                if let number = Int(part.trimmingCharacters(in: .whitespaces)), (1...factCount).contains(number), !numbers.contains(number) {
                    numbers.append(number)
                }
            }
            index = close
        }
        return numbers
    }

    /// What the warehouse knows about the dataset, one sentence each.
    func facts(user: String, dataset: String) throws -> [String] {
        let record = try training.datasets.record(user: user, dataset: dataset, version: nil)
        let profile = record.profile
        var facts: [String] = []
        func number(_ value: Double) -> String { String(format: "%.4g", value) }
        facts.append("Dataset '\(record.datasetID)' \(record.version) (\(record.name))"
            + (record.description.map { ": \($0)" } ?? "") + ". \(record.rows) rows, \(profile.columns.count) columns; "
            + "target column '\(profile.targetColumn)', task \(profile.taskType.rawValue) (\(profile.problemType.rawValue)); "
            + "uploaded \(record.createdAt) as \(record.filename).")
        for column in profile.columns.prefix(60) {
            var text = "Column '\(column.name)': \(column.dtype.rawValue), \(column.nullCount) missing, "
                + "\(column.uniqueExact ? "" : "about ")\(column.uniqueCount) distinct"
            if let min = column.min, let max = column.max { text += ", min \(number(min)), max \(number(max))" }
            if let mean = column.mean { text += ", mean \(number(mean))" }
            if let std = column.std { text += ", standard deviation \(number(std))" }
            if let top = column.topValues, !top.isEmpty, column.dtype == .categorical || column.dtype == .boolean || column.role == "target" {
                text += "; most frequent: " + top.prefix(5).map { "\($0.value) (\($0.count))" }.joined(separator: ", ")
            }
            text += column.role == "dropped" ? "; not used for training: \(column.dropReason ?? "dropped")" : "; role \(column.role)"
            facts.append(text + ".")
        }
        let analysis = try training.analysis(user: user, dataset: dataset, version: record.version)
        let result = analysis.analysis
        if let classes = result.targetDistribution.classes {
            facts.append("Target classes (every row): " + classes.map {
                "\($0.value): \($0.count) rows (\(String(format: "%.1f", 100 * Double($0.count) / Double(result.rows)))%)"
            }.joined(separator: ", ") + ".")
        } else if let mean = result.targetDistribution.mean, let std = result.targetDistribution.std,
                  let min = result.targetDistribution.min, let max = result.targetDistribution.max {
            facts.append("Target '\(result.target)' (every row): mean \(number(mean)), standard deviation \(number(std)), min \(number(min)), max \(number(max)).")
        }
        facts.append("Association of each feature with the target, mutual information in nats (\(result.method)): "
            + result.features.prefix(20).map { "\($0.name) \(number($0.mutualInformation))" }.joined(separator: ", ") + ".")
        let correlated = result.features.filter { $0.pearson != nil }.sorted { abs($0.pearson!) > abs($1.pearson!) }
        if !correlated.isEmpty {
            facts.append("Pearson (Spearman) correlation with the target: "
                + correlated.prefix(15).map { "\($0.name) \(number($0.pearson!)) (\(number($0.spearman ?? .nan)))" }.joined(separator: ", ") + ".")
        }
        let categorical = result.features.filter { $0.cramersV != nil }.sorted { $0.cramersV! > $1.cramersV! }
        if !categorical.isEmpty {
            facts.append("Cramér's V with the target: " + categorical.prefix(15).map { "\($0.name) \(number($0.cramersV!))" }.joined(separator: ", ") + ".")
        }
        if !result.pairs.isEmpty {
            facts.append("Most strongly associated feature pairs: "
                + result.pairs.prefix(8).map { "\($0.a)–\($0.b) \($0.measure) \(number($0.value))" }.joined(separator: ", ") + ".")
        }
        let outlying = result.outliers.columns.filter { $0.count > 0 }
        facts.append(outlying.isEmpty ? "No numeric feature has values more than 3 standard deviations from its mean."
            : "Outliers (\(result.outliers.method)): " + outlying.prefix(10).map {
                "\($0.name) \($0.count) rows (\(String(format: "%.2f", $0.share * 100))%)"
            }.joined(separator: ", ") + ".")
        let models = try training.modelsTrained(user: user, dataset: dataset)
        if models.isEmpty { facts.append("No model has been trained from this dataset yet.") }
        for model in models.prefix(10) {
            var text = "Model '\(model.modelID)' \(model.version) trained from it"
            if let algorithm = model.algorithm { text += " (\(algorithm))" }
            if case .object(let metrics)? = model.customMetadata["metrics"], case .object(let test)? = metrics["test"], !test.isEmpty {
                text += "; held-out test metrics: " + test.keys.sorted().compactMap { key in test[key]?.doubleValue.map { "\(key) \(number($0))" } }
                    .joined(separator: ", ")
            }
            if case .object(let options)? = model.customMetadata["training_options"], let preset = options["preset"]?.stringValue {
                text += "; preset \(preset)"
            }
            if !model.aliases.isEmpty { text += "; aliases " + model.aliases.joined(separator: ", ") }
            facts.append(text + "; created \(model.createdAt).")
        }
        if let importances = analysis.importances, let source = analysis.importancesFrom {
            facts.append("Permutation importances of '\(source.modelID)' \(source.version) (drop of \(importances.metric) on \(importances.rows) held-out rows when a feature is shuffled): "
                + importances.features.prefix(15).map { "\($0.name) \(number($0.importance))" }.joined(separator: ", ") + ".")
        }
        let sample = profile.sampleData.prefix(Self.sampleRows).map { row in
            "{" + profile.columns.map { column in "\(column.name): \((row[column.name] ?? nil) ?? "missing")" }.joined(separator: ", ") + "}"
        }
        if !sample.isEmpty {
            facts.append("The first \(sample.count) rows of the file (the only rows shared): " + sample.joined(separator: "; ") + ".")
        }
        return facts
    }
}
