import Foundation
import WarehouseAutoML
import WarehouseCore
import WarehouseService

/// The UI's training flow: datasets (list, search, upload), a dataset's analysis,
/// recommendations and training form, and the models trained from it.
extension WebPages {
    static func datasets(session: WebRoutes.Session, user: String, records: [DatasetRecord], query: String?,
                         hits: [(record: DatasetRecord, snippet: String?)]?) -> HTML {
        let rows: [HTML] = (hits ?? records.map { ($0, nil) }).map { hit in
            let record = hit.record
            return """
                <tr><td><a href="/ui/datasets/\(record.userID)/\(record.datasetID)">\(record.datasetID)</a> <span class="muted">\(record.version)</span>\
                \(hit.snippet.map { HTML("<div class=\"snippet\">\(HTML(raw: SearchHitEncoding.markedHTML($0)))</div>") } ?? "")</td>\
                <td>\(record.name)</td><td>\(record.rows)</td><td>\(record.profile.columns.count)</td><td>\(record.targetColumn)</td>\
                <td>\(record.profile.problemType.rawValue)</td><td class="muted">\(String(record.createdAt.prefix(19)))</td></tr>
                """
        }
        return layout("Datasets", session: session, body: """
            <h1>Datasets of \(user)</h1>
            <form method="get" action="/ui/datasets" class="inline"><input type="hidden" name="user" value="\(user)">\
            <input name="query" value="\(query ?? "")" placeholder="search names, descriptions, columns, target" size="40"><button>Search</button></form>
            <table><tr><th>Dataset</th><th>Name</th><th>Rows</th><th>Columns</th><th>Target</th><th>Problem</th><th>Created</th></tr>\(rows)</table>
            \(rows.isEmpty ? HTML("<p class=\"muted\">No dataset\(query == nil ? " yet" : " matches").</p>") : "")
            <h2>Upload a CSV dataset</h2>
            <form id="dataset-upload" method="post" action="/ui/datasets/upload" enctype="multipart/form-data">\
            <input type="hidden" name="csrf" value="\(session.csrf)"><input type="hidden" name="user_id" value="\(user)">
            <dl><dt>dataset id</dt><dd><input name="dataset_id" required pattern="[A-Za-z0-9][A-Za-z0-9._-]*"></dd>\
            <dt>name</dt><dd><input name="name"></dd><dt>description</dt><dd><input name="description" size="48"></dd>\
            <dt>target column</dt><dd><input name="target_column" placeholder="detected when empty"></dd>\
            <dt>train now</dt><dd><label><input type="checkbox" name="auto_train"> queue an automatic training job</label></dd>\
            <dt>CSV file</dt><dd><input type="file" name="file" accept=".csv,text/csv" required></dd></dl>
            <button>Upload</button> <progress id="bar" max="100" value="0"></progress> <span id="state" class="muted"></span></form>
            \(uploadScript(form: "dataset-upload", prepare: #"data.set("auto_train", form.auto_train.checked ? "true" : "false");"#))
            """)
    }

    /// The dataset page's training part: analysis charts, recommendations, the form, models.
    static func datasetTraining(session: WebRoutes.Session, record: DatasetRecord, analysis: TrainingService.Analysis?,
                                analysisError: String?, recommendations: TrainingService.RecommendationAnswer?,
                                models: [ModelVersionRecord]) -> HTML {
        var sections: [HTML] = []
        if let analysis {
            sections.append(analysisSection(analysis))
        } else if let analysisError {
            sections.append("<h2>Analysis</h2><p class=\"error\">\(analysisError)</p>")
        }
        if let recommendations {
            let rows: [HTML] = recommendations.recommendations.map { item in
                """
                <tr><td><strong>\(item.rank). \(item.algorithm.rawValue)</strong></td><td>\(item.reason)</td>\
                <td>\(item.estimatedSeconds, digits: 3) s <div class="muted">\(item.estimateSource)</div></td>\
                <td><button type="button" class="use" data-algorithm="\(item.algorithm.rawValue)">Use</button></td></tr>
                """
            }
            sections.append("""
                <h2>Recommended models</h2><p class="muted">Based on \(recommendations.basedOn).</p>
                <table id="recommendations"><tr><th>Family</th><th>Why</th><th>Estimated time</th><th></th></tr>\(rows)</table>
                """)
        }
        if record.profile.trainingRefusal == nil {
            sections.append(trainForm(session: session, record: record))
        } else {
            sections.append("<h2>Train</h2><p class=\"error\">This dataset cannot be trained on: \(record.profile.trainingRefusal ?? "")</p>")
        }
        let modelRows: [HTML] = models.map { model in
            var test: HTML = "–"
            if case .object(let metrics)? = model.customMetadata["metrics"], case .object(let held)? = metrics["test"] {
                test = HTML(raw: held.keys.sorted().compactMap { key in held[key]?.doubleValue.map { "\(HTML.escape(key)) \(HTML.number($0))" } }
                    .joined(separator: " · "))
            }
            return """
                <tr><td><a href="/ui/models/\(model.userID)/\(model.modelID)?version=\(model.version)">\(model.modelID)</a> \(model.version) \
                \(HTML(raw: model.aliases.map { "<span class=\"alias\">\(HTML.escape($0))</span>" }.joined()))</td>\
                <td>\(model.algorithm ?? "")</td><td>\(test)</td><td class="muted">\(String(model.createdAt.prefix(19)))</td></tr>
                """
        }
        sections.append("""
            <h2>Models trained from it</h2>\(models.isEmpty ? HTML("<p class=\"muted\">None yet.</p>") : HTML("""
            <table><tr><th>Model</th><th>Algorithm</th><th>Held-out test</th><th>Created</th></tr>\(modelRows)</table>
            """))
            """)
        return HTML(raw: sections.map(\.text).joined())
    }

    static func analysisSection(_ result: TrainingService.Analysis) -> HTML {
        let analysis = result.analysis
        let information = SVGChart.bars(analysis.features.prefix(20).map { ($0.name, $0.mutualInformation) })
        let correlations = analysis.features.compactMap { feature in (feature.pearson ?? feature.cramersV).map { (feature.name, $0, feature.pearson != nil) } }
            .sorted { abs($0.1) > abs($1.1) }.prefix(20)
        let correlationChart = SVGChart.bars(correlations.map { ("\($0.2 ? "r" : "V") \($0.0)", abs($0.1)) })
        var target: HTML = ""
        if let classes = analysis.targetDistribution.classes {
            target = SVGChart.bars(classes.prefix(20).map { ($0.value, Double($0.count)) })
        } else if let histogram = analysis.targetDistribution.histogram {
            target = SVGChart.bars(histogram.map { (HTML.number($0.low, digits: 4) + "…", Double($0.count)) })
        }
        let pairs: [HTML] = analysis.pairs.map { "<tr><td>\($0.a)</td><td>\($0.b)</td><td>\($0.measure)</td><td>\($0.value, digits: 3)</td></tr>" }
        let outliers: [HTML] = analysis.outliers.columns.filter { $0.count > 0 }.prefix(10).map {
            "<tr><td>\($0.name)</td><td>\($0.count)</td><td>\($0.share * 100, digits: 3)%</td></tr>"
        }
        var importances: HTML = ""
        if let values = result.importances, let source = result.importancesFrom {
            importances = """
                <div class="card"><strong>Permutation importances</strong> <span class="muted">\(source.modelID) \(source.version), \
                drop of \(values.metric) on \(values.rows) held-out rows</span>\
                \(SVGChart.bars(values.features.prefix(20).map { ($0.name, max(0, $0.importance)) }))</div>
                """
        }
        return """
            <h2>Analysis</h2><p class="muted">\(analysis.method).</p>
            <div class="grid" id="analysis">\
            <div class="card"><strong>Mutual information with \(analysis.target)</strong> <span class="muted">nats</span>\(information)</div>\
            <div class="card"><strong>Correlation with the target</strong> <span class="muted">|Pearson r| or Cramér's V</span>\(correlationChart)</div>\
            <div class="card"><strong>Target distribution</strong>\(analysis.targetDistribution.imbalanceRatio.map { HTML(" <span class=\"muted\">imbalance \($0, digits: 3):1</span>") } ?? "")\(target)</div>\
            \(importances)</div>
            <h2>Strongest feature pairs</h2>\(pairs.isEmpty ? HTML("<p class=\"muted\">No pair of features of the same kind.</p>") : HTML("""
            <table style="width:auto"><tr><th>a</th><th>b</th><th>measure</th><th>value</th></tr>\(pairs)</table>
            """))
            <h2>Outliers</h2><p class="muted">\(analysis.outliers.method).</p>\(outliers.isEmpty ? HTML("<p class=\"muted\">None.</p>") : HTML("""
            <table style="width:auto"><tr><th>column</th><th>rows</th><th>share</th></tr>\(outliers)</table>
            """))
            """
    }

    static func trainForm(session: WebRoutes.Session, record: DatasetRecord) -> HTML {
        let features: [HTML] = record.profile.features.enumerated().map { index, name in
            "<label style=\"margin-right:10px\"><input type=\"checkbox\" name=\"feature_\(index)\" checked> \(name)</label>"
        }
        let algorithms: [HTML] = AlgorithmFamily.allCases.map { family in
            "<label style=\"margin-right:10px\" title=\"\(family.summary)\"><input type=\"checkbox\" name=\"algorithm_\(family.rawValue)\" checked> \(family.rawValue)</label>"
        }
        let presets: [HTML] = TrainingPreset.allCases.map { preset in
            "<option value=\"\(preset.rawValue)\"\(preset == .balanced ? " selected" : "")>\(preset.rawValue): \(preset.summary)</option>"
        }
        return """
            <h2>Train a model</h2>
            <form id="train" method="post" action="/ui/datasets/\(record.userID)/\(record.datasetID)/train">\
            <input type="hidden" name="csrf" value="\(session.csrf)"><input type="hidden" name="dataset_version" value="\(record.version)">
            <dl><dt>model id</dt><dd><input name="model_id" value="\(record.datasetID)-automl" required pattern="[A-Za-z0-9][A-Za-z0-9._-]*"></dd>\
            <dt>preset</dt><dd><select name="preset">\(presets)</select></dd>\
            <dt>algorithms</dt><dd>\(algorithms)</dd>\
            <dt>features</dt><dd>\(features)</dd>\
            <dt>validation</dt><dd><select name="validation_kind"><option value="auto">the preset's choice</option>\
            <option value="holdout">holdout</option><option value="cv">cross-validation</option></select> \
            fraction <input name="validation_fraction" value="0.2" size="4"> folds <input name="validation_folds" value="5" size="3"></dd>\
            <dt>time limit (s)</dt><dd><input name="time_limit_s" value="60" size="6"></dd>\
            <dt>seed</dt><dd><input name="seed" value="0" size="6"></dd></dl>
            <button id="train-button">Start training</button></form>
            <script>
            for (const button of document.querySelectorAll("#recommendations .use")) {
              button.addEventListener("click", () => {
                const form = document.getElementById("train");
                for (const box of form.querySelectorAll("input[name^=algorithm_]")) box.checked = box.name === "algorithm_" + button.dataset.algorithm;
                form.scrollIntoView();
              });
            }
            </script>
            """
    }

    /// The form's fields as a `POST /training/jobs` body.
    static func trainingBody(_ form: [String: String], user: String, dataset: String, features: [String]) -> [String: JSONValue] {
        var body: [String: JSONValue] = ["user_id": .string(user), "dataset_id": .string(dataset)]
        for key in ["model_id", "preset", "dataset_version"] { body[key] = form[key].map(JSONValue.string) }
        body["time_limit_s"] = form["time_limit_s"].map(JSONValue.string)
        body["seed"] = form["seed"].flatMap { Int64($0) }.map(JSONValue.int) ?? form["seed"].map(JSONValue.string)
        body["algorithms"] = .array(AlgorithmFamily.allCases.filter { form["algorithm_\($0.rawValue)"] == "on" }.map { .string($0.rawValue) })
        let chosen = features.enumerated().filter { form["feature_\($0.offset)"] == "on" }.map(\.element)
        if chosen.count < features.count { body["feature_columns"] = .array(chosen.map(JSONValue.string)) }
        switch form["validation_kind"] {
        case "holdout"?: body["validation"] = .object(["kind": .string("holdout"), "fraction": Double(form["validation_fraction"] ?? "").map(JSONValue.double) ?? .string(form["validation_fraction"] ?? "")])
        case "cv"?: body["validation"] = .object(["kind": .string("cv"), "folds": Int64(form["validation_folds"] ?? "").map(JSONValue.int) ?? .string(form["validation_folds"] ?? "")])
        default: break
        }
        return body
    }
}
