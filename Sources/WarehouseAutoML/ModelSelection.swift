import Foundation

/// How candidates are validated: the rows whose predictions score them, and how a chosen
/// candidate becomes the final model.
protocol ModelSelection {
    var method: String { get }
    /// The validation as a training option (what the version records).
    var plan: ValidationPlan { get }
    var validationTarget: [Double] { get }
    func fit(_ candidate: Candidate) throws -> AutoML.Fitted
    func final(_ fitted: AutoML.Fitted) throws -> PipelineModel
}

/// k-fold cross-validation (stratified for classification), optionally repeated with new
/// shuffles: every selection row gets an out-of-fold prediction per repeat, and its validation
/// prediction is their mean. A forest's or linear model's final model is the average of its
/// k × repeats fold models (bagging); boosting is refitted (see `final`).
struct CrossValidation: ModelSelection {
    let pool: TrainingTable
    let bins: BinnedMatrix
    /// Every repeat's folds, repeat after repeat.
    let folds: [[Int]]
    let k: Int
    let repeats: Int
    let seed: UInt64
    let automl: AutoML

    var method: String { "\(k)-fold cross-validation" + (repeats > 1 ? ", repeated \(repeats) times" : "") }
    var plan: ValidationPlan { .crossValidation(folds: k, repeats: repeats) }
    var validationTarget: [Double] { pool.target }

    init(pool: TrainingTable, folds count: Int, repeats: Int = 1, seed: UInt64, automl: AutoML) throws {
        self.pool = pool
        self.seed = seed
        self.automl = automl
        bins = BinnedMatrix(table: pool, mappers: BinnedMatrix.mappers(for: pool))
        let k = max(2, min(count, pool.rowCount / 2))
        self.k = k
        self.repeats = max(1, repeats)
        var all: [[Int]] = []
        for repeat_ in 0..<self.repeats {
            // The first repeat shuffles as a single k-fold always did (same seed, same folds).
            var generator = SeededGenerator(seed: seed &+ 1 &+ UInt64(repeat_) &* 7919)
            var order = Array(0..<pool.rowCount)
            order.shuffle(using: &generator)
            if pool.targetSpec.task == .classification {
                // Stable sort by class, then deal round-robin: each fold gets every class.
                order = order.enumerated().sorted { (pool.target[$0.element], $0.offset) < (pool.target[$1.element], $1.offset) }.map(\.element)
            }
            var folds = [[Int]](repeating: [], count: k)
            for (position, row) in order.enumerated() { folds[position % k].append(row) }
            all += folds.map { $0.sorted() }
        }
        folds = all
    }

    func fit(_ candidate: Candidate) throws -> AutoML.Fitted {
        let start = ContinuousClock.now
        let n = pool.rowCount
        var candidate = candidate
        if case .forest(var parameters) = candidate.learner {
            // The fold forests are averaged in the end: together they hold the forest's trees.
            parameters.trees = max(40, parameters.trees / folds.count)
            candidate = Candidate(name: candidate.name, learner: .forest(parameters))
        }
        let results = try Parallel.map(folds.count) { fold -> Result<(PipelineModel, Int?, [Int], Prediction, Double), any Error> in
            Result {
                let held = folds[fold]
                var isHeld = [Bool](repeating: false, count: n)
                for row in held { isHeld[row] = true }
                let trainRows = (0..<n).filter { !isHeld[$0] }
                let train = pool.subset(trainRows)
                let valid = pool.subset(held)
                let (model, rounds) = try automl.fitModel(candidate, train: train, trainBins: bins.subset(trainRows),
                                                          validation: (valid, bins.subset(held)), rounds: nil,
                                                          parallel: false, seed: seed &+ UInt64(fold))
                let predictStart = ContinuousClock.now
                let prediction = model.predict(EncodedRows(columns: valid.columns, count: valid.rowCount))
                return (model, rounds, held, prediction, AutoML.seconds(since: predictStart))
            }
        }.map { try $0.get() }
        let width = results[0].3.width
        var oof = [Double](repeating: 0, count: n * width)
        var predictTime = 0.0
        // Each row is held out once per repeat: its validation prediction is their mean.
        let share = 1 / Double(repeats)
        for (_, _, held, prediction, time) in results {
            predictTime += time
            for (local, row) in held.enumerated() {
                for k in 0..<width { oof[row * width + k] += prediction.values[local * width + k] * share }
            }
        }
        let rounds = results.compactMap(\.1)
        let meanRounds = rounds.isEmpty ? nil : Int((Double(rounds.reduce(0, +)) / Double(rounds.count)).rounded())
        // The fold models together are the candidate's model: their average is what the
        // out-of-fold predictions measured (AutoGluon's bagging).
        let bagged = PipelineModel(kind: .weightedEnsemble, name: candidate.name, linear: nil, trees: nil,
                                   members: results.map { EnsembleMember(weight: 1 / Double(results.count), model: $0.0) })
        return AutoML.Fitted(candidate: candidate, model: bagged, validation: Prediction(values: oof, width: width),
                             fitTime: AutoML.seconds(since: start), predictTime: predictTime, rounds: meanRounds)
    }

    /// Boosting is refitted on all selection rows with the mean early-stopped number of rounds
    /// (one compact model: k bagged boosters would multiply its size and prediction cost);
    /// forests and linear models keep their fold models, averaged.
    func final(_ fitted: AutoML.Fitted) throws -> PipelineModel {
        guard case .boosting = fitted.candidate.learner, let rounds = fitted.rounds else { return fitted.model }
        return try automl.fitModel(fitted.candidate, train: pool, trainBins: bins, validation: nil,
                                   rounds: Int((Double(rounds) * 1.1).rounded(.up)), parallel: true, seed: seed).0
    }
}

/// One validation split (a fifth of the selection rows by default, then at most 50,000, or the
/// fraction asked for). A chosen model is refitted on every selection row when the budget
/// clearly allows it (AutoGluon's refit_full: a quarter more rows to learn from), else the
/// model fitted on the rest is final as it is.
struct Holdout: ModelSelection {
    let pool: TrainingTable
    let train: TrainingTable
    let valid: TrainingTable
    let trainBins: BinnedMatrix
    let validBins: BinnedMatrix
    let seed: UInt64
    let automl: AutoML

    let fraction: Double

    var method: String { "holdout (\(valid.rowCount) validation rows)" }
    var plan: ValidationPlan { .holdout(fraction: fraction) }
    var validationTarget: [Double] { valid.target }

    init(pool: TrainingTable, fraction: Double, capped: Bool, seed: UInt64, automl: AutoML) throws {
        var generator = SeededGenerator(seed: seed &+ 2)
        var order = Array(0..<pool.rowCount)
        order.shuffle(using: &generator)
        let wanted = max(1, min(pool.rowCount - 1, Int((Double(pool.rowCount) * fraction).rounded())))
        let validCount = capped ? min(50_000, wanted) : wanted
        self.fraction = fraction
        self.pool = pool
        valid = pool.subset(Array(order[0..<validCount]).sorted())
        train = pool.subset(Array(order[validCount...]).sorted())
        let mappers = BinnedMatrix.mappers(for: train)
        trainBins = BinnedMatrix(table: train, mappers: mappers)
        validBins = BinnedMatrix(table: valid, mappers: mappers)
        self.seed = seed
        self.automl = automl
    }

    func fit(_ candidate: Candidate) throws -> AutoML.Fitted {
        let start = ContinuousClock.now
        let (model, rounds) = try automl.fitModel(candidate, train: train, trainBins: trainBins, validation: (valid, validBins),
                                                  rounds: nil, parallel: true, seed: seed)
        let fitTime = AutoML.seconds(since: start)
        let predictStart = ContinuousClock.now
        let prediction = model.predict(EncodedRows(columns: valid.columns, count: valid.rowCount))
        return AutoML.Fitted(candidate: candidate, model: model, validation: prediction, fitTime: fitTime,
                             predictTime: AutoML.seconds(since: predictStart), rounds: rounds)
    }

    func final(_ fitted: AutoML.Fitted) throws -> PipelineModel {
        let budget = automl.budget
        // Boosting refits with its early-stopped rounds (+10% for the extra rows); a refit
        // that the limit would cut short is not worth its cost, so only with ample time.
        if case .boosting = fitted.candidate.learner, fitted.rounds == nil { return fitted.model }
        guard budget.elapsed + fitted.fitTime * 1.5 + 0.1 < budget.limitSeconds * 0.72 else { return fitted.model }
        let bins = BinnedMatrix(table: pool, mappers: BinnedMatrix.mappers(for: pool))
        let rounds = fitted.rounds.map { Int((Double($0) * 1.1).rounded(.up)) }
        let (model, _) = try automl.fitModel(fitted.candidate, train: pool, trainBins: bins, validation: nil, rounds: rounds,
                                             parallel: true, seed: seed)
        try budget.checkCancelled()
        // Stopped by the limit: a truncated model; the holdout one stands.
        return budget.exhausted() ? fitted.model : model
    }
}
