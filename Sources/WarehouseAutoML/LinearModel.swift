import Foundation

/// A regularised linear model on standardised numeric features (missing → the training mean)
/// and one-hot categories (unseen or missing → all zeros): ridge regression, or logistic /
/// softmax regression with an L2 penalty.
public struct LinearModel: Codable, Sendable, Equatable {
    /// One input of the linear part: a standardised numeric feature or one category indicator.
    public struct Term: Codable, Sendable, Equatable {
        public var feature: Int
        /// Numeric terms: (value - mean) / scale, missing → 0. Category terms: nil.
        public var mean: Double?
        public var scale: Double?
        /// Category terms: 1 when the feature's code equals this.
        public var category: Int?
    }
    public enum Link: String, Codable, Sendable { case identity, sigmoid, softmax }

    public var terms: [Term]
    /// outputs × terms, row-major.
    public var weights: [Double]
    public var intercepts: [Double]
    public var link: Link
    public var l2: Double

    var outputs: Int { intercepts.count }

    /// The design matrix: n × terms, row-major.
    func design(_ rows: EncodedRows) -> [Double] {
        let width = terms.count
        var x = [Double](repeating: 0, count: rows.count * width)
        for (index, term) in terms.enumerated() {
            let column = rows.columns[term.feature]
            if let category = term.category {
                let code = Double(category)
                for row in 0..<rows.count where column[row] == code { x[row * width + index] = 1 }
            } else {
                let mean = term.mean ?? 0, scale = term.scale ?? 1
                for row in 0..<rows.count {
                    let value = column[row]
                    x[row * width + index] = value.isNaN ? 0 : (value - mean) / scale
                }
            }
        }
        return x
    }

    func predict(_ rows: EncodedRows) -> Prediction {
        let x = design(rows)
        var raw = LinearModel.linear(x: x, n: rows.count, width: terms.count, weights: weights, intercepts: intercepts)
        switch link {
        case .identity: return Prediction(values: raw, width: 1)
        case .sigmoid:
            return Prediction(values: WarehouseAutoML.Link.binaryProbabilities(raw), width: 2)
        case .softmax:
            WarehouseAutoML.Link.softmaxRows(&raw, width: outputs)
            return Prediction(values: raw, width: outputs)
        }
    }

    static func linear(x: [Double], n: Int, width: Int, weights: [Double], intercepts: [Double]) -> [Double] {
        let outputs = intercepts.count
        var raw = [Double](repeating: 0, count: n * outputs)
        for row in 0..<n {
            for k in 0..<outputs {
                var sum = intercepts[k]
                let w = k * width, r = row * width
                for j in 0..<width { sum += weights[w + j] * x[r + j] }
                raw[row * outputs + k] = sum
            }
        }
        return raw
    }

    /// The terms for a table: numeric features standardised on `rows`, up to 50 categories each.
    static func terms(features: [FeatureSpec], columns: [[Double]]) -> [Term] {
        var terms: [Term] = []
        for (index, spec) in features.enumerated() {
            let column = columns[index]
            if spec.kind == .categorical {
                let count = min(spec.categories?.count ?? 0, 50)
                for category in 0..<count { terms.append(Term(feature: index, mean: nil, scale: nil, category: category)) }
            } else {
                let present = column.filter { !$0.isNaN }
                let mean = present.isEmpty ? 0 : present.reduce(0, +) / Double(present.count)
                let variance = present.isEmpty ? 0 : present.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(present.count)
                terms.append(Term(feature: index, mean: mean, scale: variance > 1e-24 ? variance.squareRoot() : 1, category: nil))
            }
        }
        return terms
    }
}

/// Fits `LinearModel`s: closed-form ridge for regression, L-BFGS for logistic and softmax.
struct LinearTrainer {
    let objective: TreeEnsembleModel.Objective
    let classCount: Int
    let l2: Double

    func fit(features: [FeatureSpec], rows: EncodedRows, target: [Double], budget: TrainingBudget) throws -> LinearModel {
        let terms = LinearModel.terms(features: features, columns: rows.columns)
        var model = LinearModel(terms: terms, weights: [], intercepts: [], link: .identity, l2: l2)
        let x = model.design(rows)
        let n = rows.count, d = terms.count
        switch objective {
        case .regression:
            let (weights, intercept) = ridge(x: x, n: n, d: d, y: target)
            model.weights = weights
            model.intercepts = [intercept]
        case .binary, .multiclass:
            let outputs = objective == .binary ? 1 : classCount
            model.link = objective == .binary ? .sigmoid : .softmax
            let parameters = try logistic(x: x, n: n, d: d, outputs: outputs, y: target, budget: budget)
            model.weights = Array(parameters[0..<(outputs * d)])
            model.intercepts = Array(parameters[(outputs * d)...])
        }
        return model
    }

    /// Solves (XᵀX + λn I) w = Xᵀ(y - ȳ) by Cholesky; the intercept is not penalised.
    private func ridge(x: [Double], n: Int, d: Int, y: [Double]) -> ([Double], Double) {
        let yMean = y.reduce(0, +) / Double(n)
        var columnMeans = [Double](repeating: 0, count: d)
        for row in 0..<n { for j in 0..<d { columnMeans[j] += x[row * d + j] } }
        for j in 0..<d { columnMeans[j] /= Double(n) }
        var a = [Double](repeating: 0, count: d * d)
        var b = [Double](repeating: 0, count: d)
        var centered = [Double](repeating: 0, count: d)
        for row in 0..<n {
            for j in 0..<d { centered[j] = x[row * d + j] - columnMeans[j] }
            let yc = y[row] - yMean
            for i in 0..<d {
                b[i] += centered[i] * yc
                let ci = centered[i]
                if ci == 0 { continue }
                for j in i..<d { a[i * d + j] += ci * centered[j] }
            }
        }
        for i in 0..<d {
            for j in 0..<i { a[i * d + j] = a[j * d + i] }
            a[i * d + i] += l2 * Double(n) + 1e-9
        }
        let w = Cholesky.solve(a, b, d) ?? [Double](repeating: 0, count: d)
        var intercept = yMean
        for j in 0..<d { intercept -= w[j] * columnMeans[j] }
        return (w, intercept)
    }

    /// Mean cross-entropy + λ/2 ‖W‖², minimised with L-BFGS. Parameters: weights then intercepts.
    private func logistic(x: [Double], n: Int, d: Int, outputs: Int, y: [Double], budget: TrainingBudget) throws -> [Double] {
        let count = outputs * d + outputs
        let lambda = l2
        func objectiveAndGradient(_ p: [Double]) -> (Double, [Double]) {
            var gradient = [Double](repeating: 0, count: count)
            var loss = 0.0
            var scores = [Double](repeating: 0, count: outputs)
            for row in 0..<n {
                let r = row * d
                for k in 0..<outputs {
                    var s = p[outputs * d + k]
                    for j in 0..<d { s += p[k * d + j] * x[r + j] }
                    scores[k] = s
                }
                let label = Int(y[row])
                if outputs == 1 {
                    let z = scores[0]
                    let target = Double(label)
                    // log(1 + e^z) - t z, computed stably.
                    loss += max(z, 0) + log1p(exp(-abs(z))) - target * z
                    scores[0] = Link.sigmoid(z) - target
                } else {
                    let maximum = scores.max()!
                    var sum = 0.0
                    for k in 0..<outputs { sum += exp(scores[k] - maximum) }
                    loss -= scores[label] - maximum - log(sum)
                    for k in 0..<outputs { scores[k] = exp(scores[k] - maximum) / sum - (k == label ? 1 : 0) }
                }
                for k in 0..<outputs {
                    let e = scores[k]
                    if e == 0 { continue }
                    for j in 0..<d { gradient[k * d + j] += e * x[r + j] }
                    gradient[outputs * d + k] += e
                }
            }
            let scale = 1 / Double(n)
            loss *= scale
            for index in 0..<count { gradient[index] *= scale }
            for index in 0..<(outputs * d) {
                loss += 0.5 * lambda * p[index] * p[index]
                gradient[index] += lambda * p[index]
            }
            return (loss, gradient)
        }
        return try LBFGS.minimize(start: [Double](repeating: 0, count: count), maxIterations: 200, budget: budget,
                                  objectiveAndGradient)
    }
}

enum Cholesky {
    /// Solves A x = b for a symmetric positive definite A (d × d, row-major).
    static func solve(_ a: [Double], _ b: [Double], _ d: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var sum = a[i * d + j]
                for k in 0..<j { sum -= l[i * d + k] * l[j * d + k] }
                if i == j {
                    guard sum > 0 else { return nil }
                    l[i * d + i] = sum.squareRoot()
                } else {
                    l[i * d + j] = sum / l[j * d + j]
                }
            }
        }
        var z = [Double](repeating: 0, count: d)
        for i in 0..<d {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * d + k] * z[k] }
            z[i] = sum / l[i * d + i]
        }
        var x = [Double](repeating: 0, count: d)
        for i in stride(from: d - 1, through: 0, by: -1) {
            var sum = z[i]
            for k in (i + 1)..<d { sum -= l[k * d + i] * x[k] }
            x[i] = sum / l[i * d + i]
        }
        return x
    }
}

/// Limited-memory BFGS with a backtracking (Armijo) line search.
enum LBFGS {
    static func minimize(start: [Double], maxIterations: Int, memory: Int = 10, budget: TrainingBudget,
                         _ f: ([Double]) -> (Double, [Double])) throws -> [Double] {
        var x = start
        var (value, gradient) = f(x)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        for _ in 0..<maxIterations {
            if budget.exhausted() { try budget.checkCancelled(); break }
            // Two-loop recursion: direction = -H g.
            var q = gradient
            var alphas = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alphas[i] = rho[i] * dot(s[i], q)
                for j in q.indices { q[j] -= alphas[i] * y[i][j] }
            }
            if let last = s.indices.last {
                let gamma = dot(s[last], y[last]) / dot(y[last], y[last])
                for j in q.indices { q[j] *= gamma }
            }
            for i in s.indices {
                let beta = rho[i] * dot(y[i], q)
                for j in q.indices { q[j] += s[i][j] * (alphas[i] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(direction, gradient)
            if slope >= 0 {
                direction = gradient.map { -$0 }
                slope = dot(direction, gradient)
                s.removeAll(); y.removeAll(); rho.removeAll()
            }
            var step = 1.0
            var next = x, nextValue = value, nextGradient = gradient
            var accepted = false
            for _ in 0..<30 {
                next = zip(x, direction).map { $0 + step * $1 }
                (nextValue, nextGradient) = f(next)
                if nextValue <= value + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            guard accepted else { break }
            let sk = zip(next, x).map { $0 - $1 }
            let yk = zip(nextGradient, gradient).map { $0 - $1 }
            let sy = dot(sk, yk)
            if sy > 1e-12 {
                s.append(sk); y.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            }
            let improvement = value - nextValue
            x = next; value = nextValue; gradient = nextGradient
            if improvement < 1e-10 * max(1, abs(value)) || gradient.map(abs).max() ?? 0 < 1e-7 { break }
        }
        return x
    }
}
