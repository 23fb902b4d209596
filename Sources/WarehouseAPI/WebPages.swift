import Foundation
import WarehouseAutoML
import WarehouseCore
import WarehouseHTTPServer
import WarehouseService

/// The UI's pages. Every value from a record, a profile or a form is interpolated as a
/// `String`, so `HTML` escapes it.
enum WebPages {
    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2937;background:#f8fafc}
        header{background:#111827;color:#fff;padding:10px 24px;display:flex;gap:18px;align-items:center}
        header a{color:#e5e7eb;text-decoration:none}header .who{margin-left:auto;color:#9ca3af}
        main{padding:20px 24px;max-width:1180px}h1{font-size:22px;margin:4px 0 12px}h2{font-size:16px;margin:22px 0 8px}
        table{border-collapse:collapse;background:#fff;width:100%}th,td{border-bottom:1px solid #e5e7eb;padding:6px 8px;text-align:left;vertical-align:top}
        th{background:#f1f5f9;font-weight:600}code,.hash{font-family:ui-monospace,monospace;font-size:12px}
        .muted{color:#6b7280}.snippet{font-size:12px;color:#374151}.snippet mark{background:#fef08a;padding:0}.error{color:#b91c1c}.tag{display:inline-block;background:#e0e7ff;color:#3730a3;border-radius:9px;padding:0 7px;margin:1px;font-size:12px}
        .alias{display:inline-block;background:#dcfce7;color:#166534;border-radius:9px;padding:0 7px;font-size:12px}
        form.inline{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0 14px}input,select,button{font:inherit;padding:5px 8px}
        button{background:#2563eb;color:#fff;border:0;border-radius:5px;cursor:pointer}a.button{background:#2563eb;color:#fff;padding:4px 10px;border-radius:5px;text-decoration:none}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px}
        .chart text{font-size:11px;fill:#374151}.chart .bar{fill:#60a5fa}.chart .band{fill:#bfdbfe}.chart .mean{stroke:#1d4ed8;stroke-width:2}
        .chart .axis{stroke:#9ca3af}.chart .point{fill:#2563eb;fill-opacity:.6}.chart .cell{font-size:12px}.chart .light{fill:#fff}
        progress{width:360px}dl{display:grid;grid-template-columns:200px 1fr;gap:4px 12px}dt{color:#6b7280}
        """

    /// An error page: the status, its name, and the detail the API would send (from the one
    /// error table: a 5xx says only that it is the server's fault).
    static func error(status: Int, detail: String, session: WebRoutes.Session?) -> HTML {
        layout("Error \(status)", session: session,
               body: "<h1>\(status) \(HTTPStatus.reason(status))</h1><p class=\"error\">\(detail)</p>")
    }

    static func layout(_ title: String, session: WebRoutes.Session?, body: HTML) -> HTML {
        var nav: HTML = ""
        if let session {
            let who: String
            switch session.principal {
            case .admin: who = "admin"
            case .user(let name): who = name
            }
            nav = """
                <a href="/ui/models">Models</a><a href="/ui/datasets">Datasets</a><a href="/ui/upload">Upload</a><a href="/ui/notifications">Notifications</a>\
                <span class="who">\(who)</span><form method="post" action="/ui/logout" style="margin:0">\
                <input type="hidden" name="csrf" value="\(session.csrf)"><button>Sign out</button></form>
                """
        }
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(title) · Model Warehouse</title>\
            <meta name="viewport" content="width=device-width,initial-scale=1"><style>\(HTML(raw: style))</style></head>\
            <body><header><strong>Model Warehouse</strong>\(nav)</header><main>\(body)</main></body></html>
            """
    }

    /// `application/x-www-form-urlencoded` fields.
    static func formFields(_ bytes: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.count == 2 { fields[parts[0]] = parts[1] } else if parts.count == 1 { fields[parts[0]] = "" }
        }
        return fields
    }

    static func login(next: String?, failed: Bool) -> HTML {
        layout("Sign in", session: nil, body: """
            <h1>Sign in</h1>\(failed ? HTML("<p class=\"error\">That token is not valid.</p>") : "")
            <form method="post" action="/ui/login" class="inline"><input type="hidden" name="next" value="\(next ?? "/ui/models")">\
            <input type="password" name="token" placeholder="API token" size="48" autofocus required><button>Sign in</button></form>
            <p class="muted">Use the token the admin created for you (<code>warehouse token create USER</code>); it is kept in an HttpOnly cookie.</p>
            """)
    }

    static func chooseUser(session: WebRoutes.Session, path: String) -> HTML {
        layout("Choose a user", session: session, body: """
            <h1>Whose models?</h1><form method="get" action="\(path)" class="inline"><input name="user" placeholder="user id" required><button>Show</button></form>
            """)
    }

    static func tags(_ tags: [String]) -> HTML { HTML(raw: tags.map { "<span class=\"tag\">\(HTML.escape($0))</span>" }.joined()) }

    static func models(session: WebRoutes.Session, user: String, query: ModelQuery, hits: [SearchHit], total: Int) -> HTML {
        let frameworks = ["", "pytorch", "tensorflow", "sklearn", "onnx", "keras", "huggingface", "other"]
        let types = ["", "classification", "regression", "clustering", "nlp", "computer_vision", "recommendation", "time_series", "reinforcement_learning", "other"]
        func options(_ values: [String], selected: String?) -> HTML {
            HTML(raw: values.map { "<option value=\"\(HTML.escape($0))\"\($0 == (selected ?? "") ? " selected" : "")>\(HTML.escape($0.isEmpty ? "any" : $0))</option>" }.joined())
        }
        let rows: [HTML] = hits.map { hit in
            let record = hit.record
            // The snippet is escaped text with <mark> around the matched terms.
            let snippet = hit.snippet.map { HTML(raw: "<div class=\"snippet\">" + SearchHitEncoding.markedHTML($0) + "</div>") } ?? ""
            return """
            <tr><td><a href="/ui/models/\(record.userID)/\(record.modelID)">\(record.modelID)</a><div class="muted">\(record.name)</div>\(snippet)</td>\
            <td>\(record.version)\(record.isProductionReady ? HTML(" <span class=\"alias\">production</span>") : "")</td>\
            <td>\(record.framework.rawValue)</td><td>\(record.modelType.rawValue)</td><td>\(record.formats.joined(separator: ", "))</td>\
            <td>\(record.numParameters.map { HTML.number(Double($0)) } ?? "–")</td><td>\(HTML.bytes(Int(record.totalSize)))</td>\
            <td>\(tags(record.tags))</td><td class="muted">\(String(record.updatedAt.prefix(16)))</td></tr>
            """
        }
        let userField: HTML = session.principal == .admin ? "<input type=\"hidden\" name=\"user\" value=\"\(user)\">" : ""
        return layout("Models", session: session, body: """
            <h1>Models of \(user) <span class="muted">(\(total))</span></h1>
            <form method="get" action="/ui/models" class="inline">\(userField)\
            <input name="query" value="\(query.text ?? "")" placeholder="search names, descriptions, tags…" size="32">\
            <select name="framework">\(options(frameworks, selected: query.framework?.rawValue))</select>\
            <select name="model_type">\(options(types, selected: query.modelType?.rawValue))</select>\
            <input name="tags" value="\(query.tags.joined(separator: ","))" placeholder="tags (a,b)" size="14">\
            <input name="format" value="\(query.format ?? "")" placeholder="format" size="10">\
            <input name="min_parameters" value="\(query.minParameters.map { String($0) } ?? "")" placeholder="min params" size="10">\
            <input name="max_parameters" value="\(query.maxParameters.map { String($0) } ?? "")" placeholder="max params" size="10">\
            <input name="filter" value="\(query.filter ?? "")" placeholder="filter: metrics.f1 >= 0.9 AND tags IN ('prod')" size="44">\
            <button>Search</button></form>
            <table><tr><th>Model</th><th>Version</th><th>Framework</th><th>Type</th><th>Format</th><th>Parameters</th><th>Size</th><th>Tags</th><th>Updated</th></tr>\(rows)</table>
            \(hits.isEmpty ? HTML("<p class=\"muted\">No models match.</p>") : "")
            """)
    }

    static func json(_ value: JSONValue?) -> String {
        guard let value else { return "" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func model(session: WebRoutes.Session, record: ModelVersionRecord, versions: [ModelVersionRecord],
                      aliases: ModelLifecycle.AliasState, metrics: JSONValue?) -> HTML {
        let base = "/ui/download/\(record.userID)/\(record.modelID)?version=\(record.version)"
        let aliasOf = Dictionary(grouping: aliases.aliases, by: \.value).mapValues { $0.map(\.key).sorted() }
        let versionRows: [HTML] = versions.reversed().map { version in
            """
            <tr><td><a href="/ui/models/\(version.userID)/\(version.modelID)?version=\(version.version)">\(version.version)</a> \
            \(HTML(raw: (aliasOf[version.version] ?? []).map { "<span class=\"alias\">\(HTML.escape($0))</span>" }.joined(separator: " ")))</td>\
            <td>\(version.algorithm)</td><td>\(version.validationAccuracy.map { HTML.number($0) } ?? "–")</td>\
            <td>\(HTML.bytes(Int(version.totalSize)))</td><td class="muted">\(String(version.createdAt.prefix(16)))</td></tr>
            """
        }
        let fileRows: [HTML] = record.files.map { file in
            """
            <tr><td><a href="\(base)&filename=\(HTML.query(file.filePath))">\(file.filePath)</a>\(file.isPrimary ? HTML(" <span class=\"tag\">primary</span>") : "")</td>\
            <td>\(file.format ?? file.fileType)</td><td>\(HTML.bytes(Int(file.fileSize)))</td><td class="hash">\(file.fileHash)</td></tr>
            """
        }
        var facts: [(String, String)] = [("framework", record.framework.rawValue), ("model type", record.modelType.rawValue)]
        if let algorithm = record.algorithm { facts.append(("algorithm", algorithm)) }
        if let count = record.numParameters { facts.append(("parameters", HTML.number(Double(count)))) }
        if let shape = record.inputShape { facts.append(("input shape", json(shape))) }
        if let shape = record.outputShape { facts.append(("output shape", json(shape))) }
        for (name, value) in [("training accuracy", record.trainingAccuracy), ("validation accuracy", record.validationAccuracy),
                              ("test accuracy", record.testAccuracy), ("training loss", record.trainingLoss)] {
            if let value { facts.append((name, HTML.number(value))) }
        }
        var lineage: HTML = ""
        if case .object(let dataset)? = record.customMetadata["dataset"], let id = dataset["dataset_id"]?.stringValue {
            lineage = """
                <h2>Lineage</h2><p>Trained on dataset <a href="/ui/datasets/\(record.userID)/\(id)?version=\(dataset["version"]?.stringValue ?? "")">\(id) \
                \(dataset["version"]?.stringValue ?? "")</a> (<span class="hash">sha256 \(dataset["sha256"]?.stringValue ?? "")</span>)\
                \(record.customMetadata["training_job"]?.stringValue.map { HTML(" by job <a href=\"/ui/jobs/\(HTML.query($0))\">\($0)</a>") } ?? "")</p>
                """
        }
        var onnx: HTML = ""
        if case .object(let details)? = record.customMetadata["onnx"] ?? (record.framework == .onnx ? .object(record.customMetadata) : nil),
           case .array(let inputs)? = details["inputs"] {
            var outputs: [JSONValue] = []
            if case .array(let list)? = details["outputs"] { outputs = list }
            func rows(_ items: [JSONValue], _ kind: String) -> [HTML] {
                items.compactMap { item in
                    guard case .object(let value) = item else { return nil }
                    return "<tr><td>\(kind)</td><td><code>\(value["name"]?.stringValue ?? "")</code></td><td><code>\(json(value["shape"]).replacingOccurrences(of: "\n", with: "").replacingOccurrences(of: "  ", with: ""))</code></td></tr>"
                }
            }
            onnx = "<h2>ONNX inputs and outputs</h2><table style=\"width:auto\"><tr><th></th><th>name</th><th>shape</th></tr>\(rows(inputs, "input") + rows(outputs, "output"))</table>"
        }
        return layout(record.modelID, session: session, body: """
            <h1>\(record.userID)/\(record.modelID) <span class="muted">\(record.version)</span></h1>
            <p>\(record.name) \(tags(record.tags))</p><p class="muted">\(record.description)</p>
            <p><a class="button" href="\(base)">Download \(record.version) as ZIP</a></p>
            <dl>\(facts.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" as HTML })</dl>
            \(lineage)
            <h2>Files</h2><table><tr><th>Path</th><th>Format</th><th>Size</th><th>SHA-256</th></tr>\(fileRows)</table>
            \(onnx)
            \(metrics.map { metricsSection($0, classes: record.customMetadata["classes"]) } ?? "")
            <h2>Versions</h2><table><tr><th>Version</th><th>Algorithm</th><th>Validation</th><th>Size</th><th>Created</th></tr>\(versionRows)</table>
            <details><summary>Custom metadata</summary><pre class="hash">\(json(.object(record.customMetadata)))</pre></details>
            """)
    }

    /// Test metrics as a table, plus the confusion matrix or predicted-vs-actual chart.
    static func metricsSection(_ metrics: JSONValue, classes: JSONValue?) -> HTML {
        guard case .object(let object) = metrics else { return "" }
        var rows: [HTML] = []
        if case .object(let test)? = object["test"] {
            for key in test.keys.sorted() {
                let validation: Double?
                if case .object(let v)? = object["validation"] { validation = v[key]?.doubleValue } else { validation = nil }
                rows.append("<tr><td>\(key)</td><td>\(test[key]?.doubleValue.map { HTML.number($0) } ?? "")</td><td>\(validation.map { HTML.number($0) } ?? "–")</td></tr>")
            }
        }
        var chart: HTML = ""
        if case .array(let matrixRows)? = object["confusion_matrix"] {
            let matrix = matrixRows.map { row -> [Int] in
                if case .array(let cells) = row { return cells.map { Int($0.doubleValue ?? 0) } }
                return []
            }
            var names: [String] = matrix.indices.map(String.init)
            if case .array(let list)? = classes { names = list.map { $0.stringValue ?? "" } }
            chart = "<h2>Confusion matrix <span class=\"muted\">(rows actual, columns predicted; test rows)</span></h2>\(SVGChart.confusion(matrix, classes: names))"
        } else if case .array(let pairs)? = object["predicted_vs_actual"] {
            let points = pairs.compactMap { pair -> (Double, Double)? in
                guard case .array(let values) = pair, values.count == 2, let a = values[0].doubleValue, let p = values[1].doubleValue else { return nil }
                return (a, p)
            }
            chart = "<h2>Predicted against actual <span class=\"muted\">(test rows)</span></h2>\(SVGChart.scatter(points))"
        }
        return """
            <h2>Metrics</h2><table style="width:auto"><tr><th>metric</th><th>test</th><th>validation</th></tr>\(rows)</table>\(chart)
            """
    }

    static func dataset(session: WebRoutes.Session, record: DatasetRecord, training: HTML = "") -> HTML {
        let profile = record.profile
        let cards: [HTML] = profile.columns.map { column in
            var chart: HTML = ""
            if let top = column.topValues, !top.isEmpty {
                chart = SVGChart.bars(top.map { ($0.value, Double($0.count)) })
            } else if let low = column.min, let high = column.max {
                chart = SVGChart.range(min: low, max: high, mean: column.mean, std: column.std)
            }
            let missing = profile.rows > 0 ? Double(column.nullCount) / Double(profile.rows) * 100 : 0
            return """
                <div class="card"><strong>\(column.name)</strong> <span class="tag">\(column.dtype.rawValue)</span> \
                \(column.name == profile.targetColumn ? HTML("<span class=\"alias\">target</span>") : "")\
                <div class="muted">\(column.uniqueCount) distinct\(column.uniqueExact ? "" : " (estimated") \(column.uniqueExact ? "" : ")")· \
                \(column.nullCount) missing (\(missing, digits: 3)%)\(column.mean.map { HTML(" · mean \($0, digits: 5)") } ?? "")\(column.std.map { HTML(" · std \($0, digits: 5)") } ?? "")</div>\
                \(chart)\(column.dropReason.map { HTML("<div class=\"muted\">dropped: \($0)</div>") } ?? "")</div>
                """
        }
        let columns = profile.columns.map(\.name)
        let sample: [HTML] = profile.sampleData.map { row in
            "<tr>\(columns.map { "<td>\((row[$0] ?? nil) ?? "")</td>" as HTML })</tr>"
        }
        return layout(record.datasetID, session: session, body: """
            <h1>Dataset \(record.userID)/\(record.datasetID) <span class="muted">\(record.version)</span></h1>
            <p>\(record.name) · \(profile.rows) rows · \(profile.columns.count) columns · target <strong>\(profile.targetColumn)</strong> \
            (\(profile.problemType.rawValue)) · <span class="hash">sha256 \(record.fileHash)</span></p>
            <h2>Columns</h2><div class="grid">\(cards)</div>
            <h2>Sample rows</h2><div style="overflow-x:auto"><table><tr>\(columns.map { "<th>\($0)</th>" as HTML })</tr>\(sample)</table></div>
            \(training)
            """)
    }

    static func job(session: WebRoutes.Session, job: TrainingJob, metrics: JSONValue?, classes: JSONValue?) -> HTML {
        var result: HTML = ""
        if case .object(let object)? = job.result {
            let version = object["version"]?.stringValue ?? ""
            result = """
                <h2>Result</h2><p>Registered <a href="/ui/models/\(job.userID)/\(job.modelID)?version=\(version)">\(job.modelID) \(version)</a>: \
                \(object["best_model"]?.stringValue ?? "") — validation \(object["metric"]?.stringValue ?? "") \
                \(object["validation_score"]?.doubleValue.map { HTML.number($0) } ?? "") · \(object["promotion"]?.stringValue ?? "")</p>\
                \(metrics.map { metricsSection($0, classes: classes) } ?? "")
                """
        }
        var board: [HTML] = []
        if case .object(let object)? = job.result, case .array(let rows)? = object["leaderboard"] {
            for case .object(let row) in rows {
                board.append("<tr><td>\(row["model"]?.stringValue ?? "")</td><td>\(row["validation_score"]?.doubleValue.map { HTML.number($0) } ?? "")</td><td>\(row["fit_time_s"]?.doubleValue.map { HTML.number($0, digits: 3) } ?? "")</td></tr>")
            }
        }
        let live = !["succeeded", "failed", "cancelled"].contains(job.status)
        var options: HTML = ""
        if case .object(let asked) = job.trainingOptions {
            let resolved: [String: JSONValue]
            if case .object(let result)? = job.result, case .object(let used)? = result["training_options"] { resolved = used } else { resolved = asked }
            let items: [HTML] = ["preset", "algorithms", "feature_columns", "exclude_columns", "validation", "seed"].map { key in
                "<dt>\(key)</dt><dd><code>\(resolved[key].map { json($0) } ?? "")</code></dd>"
            }
            options = "<details id=\"options\"\(live ? "" : " open")><summary>Training options</summary><dl>\(items)</dl></details>"
        }
        let cancel: HTML = live ? """
            <form method="post" action="/ui/jobs/\(job.jobID)/cancel" class="inline" id="cancel">\
            <input type="hidden" name="csrf" value="\(session.csrf)"><button style="background:#b91c1c">Cancel job</button></form>
            """ : ""
        let script: HTML = live ? """
            <script>
            const source = new EventSource(location.pathname + "/events");
            const bar = document.getElementById("progress"), message = document.getElementById("message"), board = document.getElementById("board");
            source.onmessage = (event) => {
              const data = JSON.parse(event.data);
              if (typeof data.progress === "number") bar.value = data.progress;
              if (data.message) message.textContent = data.message;
              if (data.candidate) {
                const row = board.insertRow(-1);
                row.insertCell().textContent = data.candidate.model;
                row.insertCell().textContent = data.candidate.validation_score.toFixed(4);
                row.insertCell().textContent = data.candidate.fit_time_s.toFixed(2);
              }
              if (data.type === "complete" || data.type === "error" || data.type === "cancelled") { source.close(); setTimeout(() => location.reload(), 300); }
            };
            </script>
            """ : ""
        return layout("Job \(job.jobID)", session: session, body: """
            <h1>Training job <span class="hash">\(job.jobID)</span></h1>
            <p>Dataset <a href="/ui/datasets/\(job.userID)/\(job.datasetID)">\(job.datasetID)</a> → model <strong>\(job.modelID)</strong> · \
            status <strong id="status">\(job.status)</strong>\(job.error.map { HTML(" <span class=\"error\">\($0)</span>") } ?? "")</p>
            <p><progress id="progress" max="100" value="\(job.progress, digits: 4)"></progress> <span id="message" class="muted">\(job.message)</span></p>
            \(cancel)\(options)
            <h2>Leaderboard</h2><table style="width:auto" id="board"><tr><th>candidate</th><th>validation</th><th>fit s</th></tr>\(board)</table>
            \(result)\(script)
            """)
    }

    static func notifications(session: WebRoutes.Session, user: String, items: [JSONValue]) -> HTML {
        let rows: [HTML] = items.compactMap { item in
            guard case .object(let object) = item else { return nil }
            let model = object["model_id"]?.stringValue ?? ""
            return """
                <tr><td class="muted">\(String((object["created_at"]?.stringValue ?? "").prefix(19)))</td><td><strong>\(object["outcome"]?.stringValue ?? "")</strong></td>\
                <td><a href="/ui/models/\(user)/\(model)">\(model)</a> \(object["version"]?.stringValue ?? "")</td>\
                <td>\(object["reason"]?.stringValue ?? "")</td><td>\(object["job_id"]?.stringValue.map { HTML("<a href=\"/ui/jobs/\(HTML.query($0))\">job</a>") } ?? "")</td></tr>
                """
        }
        return layout("Notifications", session: session, body: """
            <h1>Notifications of \(user)</h1><table><tr><th>When</th><th>Outcome</th><th>Model</th><th>Why</th><th></th></tr>\(rows)</table>
            \(items.isEmpty ? HTML("<p class=\"muted\">Nothing yet.</p>") : "")
            """)
    }

    static func upload(session: WebRoutes.Session, user: String?) -> HTML {
        layout("Upload", session: session, body: """
            <h1>Upload a model</h1>
            <form id="upload" method="post" action="/ui/upload" enctype="multipart/form-data">\
            <input type="hidden" name="csrf" value="\(session.csrf)">
            <dl><dt>user</dt><dd><input name="user_id" value="\(user ?? "")" required></dd>\
            <dt>model id</dt><dd><input name="model_id" required pattern="[A-Za-z0-9][A-Za-z0-9._-]*"></dd>\
            <dt>version</dt><dd><input name="version" placeholder="next"></dd><dt>name</dt><dd><input name="name"></dd>\
            <dt>description</dt><dd><input name="description" size="48"></dd><dt>tags</dt><dd><input name="tags" placeholder="a,b"></dd>\
            <dt>folder</dt><dd><label><input type="checkbox" name="as_folder"> the file is a ZIP of a model folder</label></dd>\
            <dt>file</dt><dd><input type="file" name="file" required></dd></dl>
            <button>Upload</button> <progress id="bar" max="100" value="0"></progress> <span id="state" class="muted"></span></form>
            \(uploadScript(form: "upload"))
            """)
    }

    /// Sends a multipart form with XMLHttpRequest (so its progress bar `#bar` moves, and
    /// `#state` says what went wrong), then goes where the answer's `location` says.
    /// `prepare` may adjust the FormData `data` first.
    static func uploadScript(form: String, prepare: String = "") -> HTML {
        HTML(raw: """
            <script>
            document.getElementById("\(form)").addEventListener("submit", (event) => {
              event.preventDefault();
              const form = event.target, request = new XMLHttpRequest(), state = document.getElementById("state"), data = new FormData(form);
              \(prepare)
              request.upload.onprogress = (p) => { if (p.lengthComputable) document.getElementById("bar").value = 100 * p.loaded / p.total; };
              request.onload = () => {
                const answer = JSON.parse(request.responseText || "{}");
                if (request.status === 200) location.href = answer.location; else state.textContent = answer.detail || ("error " + request.status);
              };
              request.onerror = () => { state.textContent = "the upload failed"; };
              request.open("POST", form.action);
              request.send(data);
              state.textContent = "uploading…";
            });
            </script>
            """)
    }
}
