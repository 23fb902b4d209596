import WarehouseCore

/// `GET /openapi.json`: the API as an OpenAPI 3.1 document, built from one table of
/// operations. A test checks it with openapi-spec-validator and against the router's routes.
enum OpenAPIDocument {
    enum Body {
        case form([String])                // application/x-www-form-urlencoded fields
        case json(String)                  // a component schema
        case multipart([(String, String, Bool)])  // (field, description, required); "file" fields are binary
        case jsonOrCSV(String)
        case octets(String)                // a raw request body (application/octet-stream), described
    }

    struct Operation {
        let method: String
        let path: String
        let tag: String
        let summary: String
        var query: [(name: String, description: String, type: String)] = []
        var body: Body?
        /// Request headers the operation reads (all required).
        var headers: [(name: String, description: String)] = []
        var success: (status: Int, description: String, content: String)  // content: schema name, "binary", "text", "html", "sse"
        var errors: [Int]
        /// Web UI routes: signed in with the session cookie (`cookie`), or open (`none`).
        var security = "bearer"
        /// The schema of its error bodies (MLflow's surface answers its own).
        var errorSchema = "Error"
    }

    static func page(_ method: String, _ path: String, _ summary: String, query: [(name: String, description: String, type: String)] = [],
                     body: Body? = nil, success: (Int, String, String) = (200, "an HTML page (303 to /ui/login when signed out)", "html"),
                     errors: [Int] = [400, 403, 404], security: String = "cookie") -> Operation {
        Operation(method: method, path: path, tag: "ui", summary: summary, query: query, body: body, success: success, errors: errors,
                  security: security)
    }

    static let uiOperations: [Operation] = [
        page("GET", "/ui", "Redirects to the models page", success: (303, "redirect", "html"), errors: [404], security: "none"),
        page("GET", "/ui/login", "The sign-in form", query: [("next", "where to go after signing in", "string"), ("failed", "show the failure", "string")],
             success: (200, "an HTML page", "html"), errors: [400], security: "none"),
        page("POST", "/ui/login", "Sign in: sets the HttpOnly, SameSite=Strict session cookie", body: .form(["token", "next"]),
             success: (303, "redirect (to /ui/login?failed=1 for a bad token)", "html"), errors: [400], security: "none"),
        page("POST", "/ui/logout", "Sign out (CSRF token required)", body: .form(["csrf"]), success: (303, "redirect to /ui/login", "html"), errors: [403]),
        page("GET", "/ui/models", "Models with search and filters", query: [("user", "whose models (admin)", "string"), ("query", "search words", "string")] + listQuery),
        page("GET", "/ui/models/{user_id}/{model_id}", "A model: versions, aliases, files, metadata, metrics, lineage", query: versionQuery),
        page("GET", "/ui/download/{user_id}/{model_id}", "Download a file or the version as ZIP with the session cookie",
             query: versionQuery + [("filename", "a file path of the version", "string")], success: (200, "the file or a ZIP", "binary")),
        page("GET", "/ui/datasets/{user_id}/{dataset_id}", "A dataset: profile with charts, sample rows, analysis charts, recommended models, the training form and the models trained from it", query: [("version", "v1, v2… (default: latest)", "string")]),
        page("GET", "/ui/datasets", "Datasets with search, and the CSV upload form", query: [("user", "whose datasets (admin)", "string"), ("query", "search words", "string")]),
        page("POST", "/ui/datasets/upload", "Upload a CSV dataset from the form (CSRF token required); answers where its page is",
             body: .multipart([("csrf", "the form's CSRF token", true), ("user_id", "owner", true), ("dataset_id", "dataset id", true),
                               ("target_column", "the column to predict", false), ("auto_train", "true: queue the automatic job", false),
                               ("file", "the CSV file", true)]),
             success: (200, "{\"location\": the dataset's page}", "object"), errors: [400, 401, 403, 413]),
        page("POST", "/ui/datasets/{user_id}/{dataset_id}/train", "Start a training job from the form (CSRF token required): model_id, preset, algorithm_{family}=on, feature_{index}=on, validation_kind/fraction/folds, time_limit_s, seed",
             body: .form(["csrf", "model_id", "preset", "time_limit_s", "seed", "validation_kind"]), success: (303, "redirect to the job's page", "html"), errors: [400, 403, 404]),
        page("POST", "/ui/jobs/{job_id}/cancel", "Cancel a job from its page (CSRF token required)", body: .form(["csrf"]),
             success: (303, "redirect to the job's page", "html"), errors: [403, 404]),
        page("GET", "/ui/jobs/{job_id}", "A training job: live progress, leaderboard, metrics"),
        page("GET", "/ui/jobs/{job_id}/events", "The job's Server-Sent Events with the session cookie", success: (200, "text/event-stream", "sse"), errors: [401, 404]),
        page("GET", "/ui/notifications", "Notifications", query: [("user", "whose notifications (admin)", "string")]),
        page("GET", "/ui/upload", "The upload form"),
        page("POST", "/ui/upload", "Upload from the form (CSRF token required); answers where the new version is",
             body: .multipart([("csrf", "the form's CSRF token", true), ("user_id", "owner", true), ("model_id", "model id", true),
                               ("as_folder", "on: the file is a ZIP of a folder", false), ("file", "the file", true)]),
             success: (200, "{\"location\": page of the new version}", "object"), errors: [400, 401, 403, 409, 413]),
    ]

    /// The Hugging Face Hub protocol under /hf (`HF_ENDPOINT=http://HOST:PORT/hf`, `HF_TOKEN`):
    /// what the stock huggingface_hub client calls. Errors also carry `X-Error-Code`
    /// (RepoNotFound, RevisionNotFound, EntryNotFound) and `X-Error-Message`.
    static let hubOperations: [Operation] = {
        let model = "/hf/api/models/{user_id}/{model_id}"
        let repoErrors = [400, 401, 404, 500, 503]
        func hub(_ method: String, _ path: String, _ summary: String, query: [(name: String, description: String, type: String)] = [],
                 body: Body? = nil, success: (Int, String, String) = (200, "JSON as the Hub answers it", "object"),
                 errors: [Int] = repoErrors, security: String = "bearer") -> Operation {
            Operation(method: method, path: path, tag: "hub", summary: summary, query: query, body: body, success: success, errors: errors,
                      security: security)
        }
        let revision = "main (the latest version), vN, an alias, or a commit id; refs/heads/… and refs/tags/… accepted"
        return [
            hub("GET", "/hf/api/agent-harnesses", "What the client asks first: nothing to report", errors: [500], security: "none"),
            hub("GET", "/hf/api/whoami-v2", "The token's user", errors: [401]),
            hub("POST", "/hf/api/validate-yaml", "Model card front matter check (always accepted)", body: .json("HubJSON"), errors: [400, 401]),
            hub("POST", "/hf/api/repos/create", "create_repo: a model without versions (409 with its url when it exists)",
                body: .json("HubJSON"), errors: [400, 401, 403, 409]),
            hub("DELETE", "/hf/api/repos/delete", "delete_repo: the model and every version", body: .json("HubJSON")),
            hub("GET", "/hf/api/models", "list_models: the caller's models", query: [("author", "a user id", "string"),
                ("search", "part of the repo id", "string"), ("limit", "at most this many", "integer")], errors: [401]),
            hub("GET", model, "model_info of main: sha, siblings, tags, pipeline_tag, library_name, cardData, safetensors"),
            hub("GET", model + "/revision/{revision}", "model_info of a revision: \(revision)"),
            hub("GET", model + "/tree/{revision}/{path}", "list_repo_tree (the path may be empty; a missing folder is EntryNotFound)",
                query: [("recursive", "true: the whole subtree", "boolean"), ("expand", "true: each entry's last commit", "boolean")]),
            hub("POST", model + "/paths-info/{revision}", "get_paths_info: entries of the paths that exist", body: .form(["paths", "expand"])),
            hub("GET", model + "/refs", "list_repo_refs: main and aliases as branches, versions as tags"),
            hub("GET", model + "/commits/{revision}", "list_repo_commits: each version is a commit, newest first"),
            hub("POST", model + "/preupload/{revision}", "regular (inline) up to hf_regular_upload_max_bytes, lfs above", body: .json("HubJSON")),
            hub("POST", model + "/commit/{revision}", "create_commit on main (NDJSON): the next version from the latest one's files, plus additions, minus deletions",
                body: .octets("application/x-ndjson: a header line, then file, lfsFile, deletedFile and deletedFolder lines"),
                errors: [400, 401, 403, 404, 409, 412, 413, 500, 503]),
            hub("POST", model + "/tag/{revision}", "create_tag: a new alias on the revision's version", body: .json("HubJSON"),
                errors: [400, 401, 404, 409]),
            hub("DELETE", model + "/tag/{name}", "delete_tag: removes the alias", errors: [401, 403, 404]),
            hub("POST", model + "/branch/{name}", "create_branch: a new alias (startingPoint: a revision)", body: .json("HubJSON"),
                errors: [400, 401, 404, 409]),
            hub("DELETE", model + "/branch/{name}", "delete_branch: removes the alias", errors: [401, 403, 404]),
            hub("GET", model + "/xet-write-token/{revision}", "Xet is not served: 501 saying to set HF_HUB_DISABLE_XET=1", errors: [401, 404, 501]),
            hub("GET", model + "/xet-read-token/{revision}", "Xet is not served: 501", errors: [401, 404, 501]),
            hub("GET", "/hf/{user_id}/{model_id}/resolve/{revision}/{path}",
                "hf_hub_download: the file (HEAD too) with X-Repo-Commit, X-Linked-Etag (its SHA-256), X-Linked-Size; Range → 206",
                success: (200, "the file's bytes", "binary"), errors: [401, 404, 416, 500, 503]),
            hub("POST", "/hf/{user_id}/{model_id}.git/info/lfs/objects/batch",
                "Git LFS batch (upload): presigned bucket URLs on S3 (multipart above the part size), signed service URLs locally",
                body: .json("HubJSON"), errors: [400, 401, 404]),
            hub("POST", "/hf/{user_id}/{model_id}.git/info/lfs/verify", "Git LFS verify: the object is stored whole", body: .json("HubJSON")),
            hub("PUT", "/hf/lfs/upload/{ticket}", "A signed LFS upload (local store): stored only if the bytes are the announced object",
                body: .octets("the object's bytes"), errors: [400, 401, 413], security: "none"),
            hub("POST", "/hf/lfs/complete/{ticket}", "A signed LFS multipart completion (S3): joins the parts put to the bucket",
                body: .json("HubJSON"), errors: [400, 401, 503], security: "none"),
        ]
    }()

    /// MLflow's REST protocol (`MLFLOW_TRACKING_URI=http://HOST:PORT`, `MLFLOW_TRACKING_TOKEN`):
    /// what the stock mlflow client calls. GETs take their message as query parameters, the
    /// other methods (DELETE too) as JSON; errors are `{"error_code", "message"}`.
    static let mlflowOperations: [Operation] = {
        func mlflow(_ method: String, _ path: String, _ summary: String, body: Body? = nil,
                    success: (Int, String, String) = (200, "JSON as MLflow answers it", "MLflowJSON"),
                    errors: [Int] = [400, 401, 403, 404]) -> Operation {
            var operation = Operation(method: method, path: path, tag: "mlflow", summary: summary, body: body ?? (method == "GET" ? nil : .json("MLflowJSON")),
                                      success: success, errors: errors)
            operation.errorSchema = "MLflowError"
            return operation
        }
        let models = "/api/2.0/mlflow/registered-models/"
        let versions = "/api/2.0/mlflow/model-versions/"
        let logged = "/api/2.0/mlflow/logged-models"
        let runs = "/api/2.0/mlflow/runs/"
        let artifacts = "/api/2.0/mlflow-artifacts/"
        let name = "(name: model_id, or user_id~model_id)"
        return [
            mlflow("POST", models + "create", "create_registered_model: a model without versions \(name)"),
            mlflow("GET", models + "get", "get_registered_model (query: name)"),
            mlflow("GET", models + "search", "search_registered_models (query: filter, max_results ≤ 1000, order_by, page_token)"),
            mlflow("PATCH", models + "update", "update_registered_model: the model's description"),
            mlflow("POST", models + "rename", "rename_registered_model: every version copied server-side to the new name"),
            mlflow("DELETE", models + "delete", "delete_registered_model: the model and every version"),
            mlflow("POST", models + "set-tag", "set_registered_model_tag"),
            mlflow("DELETE", models + "delete-tag", "delete_registered_model_tag"),
            mlflow("POST", models + "get-latest-versions", "get_latest_versions: the latest numbered version (stage None)"),
            mlflow("GET", models + "get-latest-versions", "get_latest_versions (the client's fallback)"),
            mlflow("POST", models + "alias", "set_registered_model_alias"),
            mlflow("GET", models + "alias", "get_model_version_by_alias (query: name, alias; latest names the highest version)"),
            mlflow("DELETE", models + "alias", "delete_registered_model_alias"),
            mlflow("POST", versions + "create", "create_model_version from models:/m-… (a logged model), models:/name/N, or mlflow-artifacts:/…; local paths are refused"),
            mlflow("GET", versions + "get", "get_model_version (query: name, version)"),
            mlflow("GET", versions + "search", "search_model_versions (query: filter with tag., metrics., params.; max_results ≤ 200000, order_by, page_token)"),
            mlflow("PATCH", versions + "update", "update_model_version: its description"),
            mlflow("DELETE", versions + "delete", "delete_model_version"),
            mlflow("POST", versions + "set-tag", "set_model_version_tag"),
            mlflow("DELETE", versions + "delete-tag", "delete_model_version_tag"),
            mlflow("GET", versions + "get-download-uri", "get_model_version_download_uri: mlflow-artifacts:/registry/{user}/{model}/vN"),
            mlflow("POST", versions + "transition-stage", "Refused: stages are not kept, use aliases", errors: [400, 401, 403, 404]),
            mlflow("POST", logged, "log_model: a logged model whose files are staged under its artifact_uri"),
            mlflow("POST", logged + "/search", "Logged models of the caller (filter on name, source_run_id, …): register_model of runs:/ URIs"),
            mlflow("GET", logged + "/{model_id}", "A logged model (its artifact_uri is its version's once registered)"),
            mlflow("PATCH", logged + "/{model_id}", "Finalize a logged model (status)"),
            mlflow("PATCH", logged + "/{model_id}/tags", "Tags of a logged model"),
            mlflow("POST", logged + "/{model_id}/params", "Params of a logged model"),
            mlflow("POST", runs + "create", "start_run: a run (params, metrics, tags, staged artifacts)"),
            mlflow("GET", runs + "get", "A run (query: run_id)"),
            mlflow("POST", runs + "update", "end_run"),
            mlflow("POST", runs + "log-batch", "Metrics, params and tags of a run (metrics naming a model_id reach that logged model)"),
            mlflow("POST", runs + "log-metric", "A metric of a run"),
            mlflow("POST", runs + "log-parameter", "A param of a run"),
            mlflow("POST", runs + "set-tag", "A tag of a run"),
            mlflow("POST", runs + "outputs", "The models a run logged"),
            mlflow("GET", "/api/2.0/mlflow/metrics/get-history", "A run's metric history (query: run_id, metric_key)"),
            mlflow("GET", "/api/2.0/mlflow/experiments/get-by-name", "An experiment by name (every name exists)"),
            mlflow("GET", "/api/2.0/mlflow/experiments/get", "An experiment by id"),
            mlflow("POST", "/api/2.0/mlflow/experiments/create", "An experiment's id"),
            mlflow("GET", artifacts + "artifacts", "List artifacts (query: path): basenames, [] for a file"),
            mlflow("GET", artifacts + "artifacts/{path}", "Download an artifact: a version's file (Range, ETag), or its synthesised MLmodel",
                   success: (200, "the file's bytes", "binary"), errors: [401, 403, 404, 416, 409, 503]),
            mlflow("PUT", artifacts + "artifacts/{path}", "Upload an artifact to a logged model's or run's staging path",
                   body: .octets("the file's bytes"), success: (200, "{}", "MLflowJSON"), errors: [400, 401, 403, 404, 413]),
            mlflow("POST", artifacts + "mpu/create/{path}", "Start a multipart upload: presigned part URLs to the bucket (S3; 501 locally)",
                   errors: [400, 401, 403, 404, 501]),
            mlflow("POST", artifacts + "mpu/complete/{path}", "Complete a multipart upload"),
            mlflow("POST", artifacts + "mpu/abort/{path}", "Abort a multipart upload"),
            mlflow("GET", "/api/3.0/mlflow/server-info", "Capabilities: multipart uploads on S3", errors: [401]),
        ]
    }()

    static let userErrors = [400, 401, 403, 404, 500, 503]

    static let operations: [Operation] = [
        Operation(method: "GET", path: "/health", tag: "system", summary: "Liveness: storage and catalog checks (no token needed)",
                  success: (200, "healthy", "Health"), errors: [503]),
        Operation(method: "GET", path: "/metrics", tag: "system", summary: "Prometheus metrics (text format 0.0.4)",
                  success: (200, "metrics", "text"), errors: [401, 500]),
        Operation(method: "GET", path: "/openapi.json", tag: "system", summary: "This document",
                  success: (200, "the OpenAPI document", "object"), errors: [401]),
        Operation(method: "POST", path: "/auth/tokens", tag: "auth", summary: "Create a user token (admin); the secret is shown once",
                  body: .json("TokenRequest"), success: (200, "the new token", "Token"), errors: [400, 401, 403]),
        Operation(method: "GET", path: "/auth/tokens", tag: "auth", summary: "List tokens (admin), without secrets",
                  query: [("user_id", "only this user's tokens", "string")], success: (200, "tokens", "TokenList"), errors: [401, 403]),
        Operation(method: "DELETE", path: "/auth/tokens/{token_id}", tag: "auth", summary: "Revoke a token (admin)",
                  success: (200, "revoked", "object"), errors: [401, 403, 404]),

        Operation(method: "POST", path: "/ai-models/upload/single", tag: "models", summary: "Upload one file as a new version (or add it to an existing version)",
                  body: .multipart(uploadFields(file: "file")), success: (200, "the version record", "ModelVersion"), errors: userErrors + [409, 413]),
        Operation(method: "POST", path: "/ai-models/upload/folder", tag: "models", summary: "Upload a ZIP of a model folder as a new version",
                  body: .multipart(uploadFields(file: "zip_file") + [("preserve_structure", "keep the folder layout (default true)", false)]),
                  success: (200, "the version record", "ModelVersion"), errors: userErrors + [409, 413]),
        Operation(method: "POST", path: "/ai-models/upload/sessions", tag: "uploads",
                  summary: "Open a resumable upload session for the files of one new version (reserves the version; parts go to an S3 multipart upload or a sparse local file)",
                  body: .json("UploadSessionRequest"), success: (201, "the session, with every file's missing parts", "UploadSession"),
                  errors: userErrors + [409]),
        Operation(method: "GET", path: "/ai-models/upload/sessions/{session_id}", tag: "uploads",
                  summary: "A session's state and, per file, which parts arrived and which are missing (what a resuming client sends)",
                  success: (200, "the session", "UploadSession"), errors: userErrors + [409]),
        Operation(method: "PUT", path: "/ai-models/upload/sessions/{session_id}/parts/{part_number}", tag: "uploads",
                  summary: "Send one part (1-10000) of a file: Content-Length must be the part's size, X-Part-SHA256 its SHA-256; a mismatch refuses the part and keeps the session usable; sending a part again replaces it",
                  query: [("file", "the file's path in the session (required)", "string")],
                  body: .octets("the part's bytes"),
                  headers: [("X-Part-SHA256", "the part's SHA-256 in hexadecimal")],
                  success: (200, "the stored part", "UploadPart"), errors: userErrors + [409, 413]),
        Operation(method: "GET", path: "/ai-models/upload/sessions/{session_id}/parts/{part_number}/url", tag: "uploads",
                  summary: "A presigned URL to PUT the part straight into the bucket (S3 storage, sessions opened with presigned: true); checked at completion",
                  query: [("file", "the file's path in the session (required)", "string"),
                          ("sha256", "the part's SHA-256, signed into the URL so the bucket refuses other bytes", "string")],
                  success: (200, "where and how to send the part", "PresignedPart"), errors: userErrors + [409]),
        Operation(method: "POST", path: "/ai-models/upload/sessions/{session_id}/complete", tag: "uploads",
                  summary: "Join each file's parts, check sizes and SHA-256 (per part and the whole file's, when given), inspect the files and commit the version; 409 names missing parts",
                  success: (200, "the version record", "ModelVersion"), errors: userErrors + [409]),
        Operation(method: "DELETE", path: "/ai-models/upload/sessions/{session_id}", tag: "uploads",
                  summary: "Abort a session: its parts and its reserved version are removed",
                  success: (200, "{\"session_id\", \"aborted\": true}", "SessionAbort"), errors: userErrors + [409]),
        Operation(method: "GET", path: "/ai-models/{user_id}", tag: "models", summary: "List models: the latest version of each, filtered",
                  query: listQuery, success: (200, "records; X-Total-Count has the total", "ModelVersionList"), errors: userErrors),
        Operation(method: "GET", path: "/ai-models/search/{user_id}", tag: "models", summary: "Full-text search with filters",
                  query: [("query", "words, matched as prefixes", "string")] + listQuery,
                  success: (200, "records by relevance; X-Total-Count has the total", "ModelVersionList"), errors: userErrors),
        Operation(method: "GET", path: "/ai-models/{user_id}/{model_id}", tag: "models", summary: "A version's record (default: latest)",
                  query: versionQuery, success: (200, "the record", "ModelVersion"), errors: userErrors),
        Operation(method: "PUT", path: "/ai-models/{user_id}/{model_id}", tag: "models", summary: "Partial update of a version's metadata",
                  query: versionQuery, body: .json("MetadataUpdate"), success: (200, "the updated record", "ModelVersion"), errors: userErrors),
        Operation(method: "DELETE", path: "/ai-models/{user_id}/{model_id}", tag: "models", summary: "Delete a version, or the whole model without version",
                  query: versionQuery + [("force", "also when it holds an alias (the alias is removed)", "boolean")],
                  success: (200, "what was deleted", "Deletion"), errors: userErrors + [409]),
        Operation(method: "GET", path: "/ai-models/{user_id}/{model_id}/versions", tag: "models", summary: "Every version of a model, oldest first",
                  success: (200, "records", "ModelVersionList"), errors: userErrors),
        Operation(method: "GET", path: "/ai-models/{user_id}/{model_id}/files", tag: "models", summary: "A version's files with sizes and SHA-256",
                  query: versionQuery, success: (200, "files", "FileList"), errors: userErrors),
        Operation(method: "GET", path: "/ai-models/{user_id}/{model_id}/download", tag: "models",
                  summary: "One file (with filename), else the whole version as a ZIP; Range, ETag and If-None-Match honoured; 500 naming the file when its stored object no longer matches the catalog (size or store ETag)",
                  query: versionQuery + [("filename", "a file path of the version", "string")],
                  success: (200, "the file or a ZIP (206 for a range, 304 when unchanged)", "binary"), errors: userErrors + [416]),

        Operation(method: "GET", path: "/ai-models/{user_id}/{model_id}/aliases", tag: "lifecycle", summary: "A model's aliases and their history",
                  success: (200, "aliases", "Aliases"), errors: userErrors),
        Operation(method: "PUT", path: "/ai-models/{user_id}/{model_id}/aliases/{alias}", tag: "lifecycle", summary: "Point an alias at a version",
                  body: .json("AliasRequest"), success: (200, "aliases", "Aliases"), errors: userErrors),
        Operation(method: "DELETE", path: "/ai-models/{user_id}/{model_id}/aliases/{alias}", tag: "lifecycle", summary: "Remove an alias",
                  success: (200, "aliases", "Aliases"), errors: userErrors),
        Operation(method: "POST", path: "/ai-models/{user_id}/{model_id}/rollback", tag: "lifecycle",
                  summary: "Move production back to its previous holder", body: .json("RollbackRequest"),
                  success: (200, "where production moved", "Rollback"), errors: userErrors + [409]),
        Operation(method: "GET", path: "/notifications", tag: "lifecycle", summary: "Promotions, refusals, rollbacks, failures, retraining starts; newest first",
                  query: [("user_id", "whose notifications (required)", "string"), ("limit", "at most this many (1-1000, default 100)", "integer"),
                          ("before_id", "older than this notification id", "integer")],
                  success: (200, "notifications", "NotificationList"), errors: [400, 401, 403, 500]),
        Operation(method: "POST", path: "/ai-models/{user_id}/{model_id}/predict", tag: "training",
                  summary: "Predict with a trained version (default: production, else latest): JSON rows or a CSV body",
                  query: versionQuery, body: .jsonOrCSV("PredictionRequest"), success: (200, "predictions with their ids", "Prediction"), errors: userErrors + [413]),
        Operation(method: "POST", path: "/ai-models/{user_id}/{model_id}/feedback", tag: "lifecycle", summary: "Actual outcomes of predictions (one or items)",
                  body: .json("FeedbackRequest"), success: (200, "what was recorded, and a retraining it started", "FeedbackReceipt"), errors: userErrors + [413]),
        Operation(method: "GET", path: "/ai-models/{user_id}/{model_id}/performance", tag: "lifecycle", summary: "Live metrics per version from feedback",
                  success: (200, "performance", "Performance"), errors: userErrors),
        Operation(method: "POST", path: "/ai-models/{user_id}/{model_id}/retrain", tag: "lifecycle", summary: "Retrain on the model's dataset plus feedback rows",
                  body: .json("RetrainRequest"), success: (202, "the queued job", "TrainingJob"), errors: userErrors + [409]),
        Operation(method: "GET", path: "/ai-models/{user_id}/{model_id}/retraining", tag: "lifecycle", summary: "Automatic retraining thresholds in effect",
                  success: (200, "settings", "RetrainingSettings"), errors: userErrors),
        Operation(method: "PUT", path: "/ai-models/{user_id}/{model_id}/retraining", tag: "lifecycle", summary: "Set a model's own retraining thresholds",
                  body: .json("RetrainingUpdate"), success: (200, "settings", "RetrainingSettings"), errors: userErrors),

        Operation(method: "POST", path: "/datasets/upload", tag: "datasets", summary: "Upload a CSV dataset (profiled; auto_train queues a job)",
                  body: .multipart([("file", "the CSV file", true), ("user_id", "owner", true), ("dataset_id", "dataset id", true),
                                    ("name", "display name", false), ("description", "description", false),
                                    ("target_column", "the column to predict", false), ("task_type", "classification or regression", false),
                                    ("auto_train", "queue a training job (default true)", false), ("time_limit", "its budget in seconds", false)]),
                  success: (200, "the dataset record and profile, with the job", "DatasetUpload"), errors: userErrors + [413]),
        Operation(method: "GET", path: "/datasets/{user_id}", tag: "datasets", summary: "The latest version of each dataset",
                  success: (200, "datasets", "DatasetList"), errors: userErrors),
        Operation(method: "GET", path: "/datasets/search/{user_id}", tag: "datasets",
                  summary: "Full-text search over dataset names, descriptions, column names, target and id (latest versions), best first; X-Total-Count",
                  query: [("query", "the words to find (each a prefix; all must match)", "string"),
                          ("skip", "results to skip", "integer"), ("limit", "at most this many (1-1000, default 100)", "integer")],
                  success: (200, "datasets with snippet", "DatasetHitList"), errors: userErrors),
        Operation(method: "GET", path: "/datasets/{user_id}/{dataset_id}/models", tag: "datasets",
                  summary: "The models trained from a dataset: each model's latest version trained from it, with its scores and training options",
                  success: (200, "version records", "DatasetModels"), errors: userErrors),
        Operation(method: "POST", path: "/datasets/{user_id}/{dataset_id}/recommendations", tag: "datasets",
                  summary: "The three candidate families that suit the dataset, best first, each with its reason (from the profile, a kept analysis and earlier jobs on it), an estimated training time (from the timings recorded on this server, else documented defaults) and the options of a job that follows it; based_on says what was used",
                  body: .json("RecommendationRequest"), success: (200, "recommendations", "Recommendations"), errors: userErrors),
        Operation(method: "POST", path: "/datasets/{user_id}/{dataset_id}/chat", tag: "datasets",
                  summary: "Ask a question about the dataset: a language model (llm_url, OpenAI-compatible) answers from numbered facts (profile, analysis, models trained from it, five sample rows) and cites them; with stream: true or Accept: text/event-stream, Server-Sent Events (facts, delta…, done or error); 501 when no language model is configured, 502 when it fails",
                  body: .json("ChatRequest"), success: (200, "the answer and the facts sent", "ChatAnswer"), errors: userErrors + [501, 502]),
        Operation(method: "GET", path: "/datasets/{user_id}/{dataset_id}/analysis", tag: "datasets",
                  summary: "Each feature's association with the target (mutual information; Pearson/Spearman; Cramér's V), the strongest feature pairs, the target's distribution, outliers, and the permutation importances of the latest model trained on the version; computed once per version (over a sample of at most 50,000 rows: sampled says so) and kept",
                  query: [("version", "v1, v2… (default: latest)", "string")], success: (200, "the analysis", "DatasetAnalysis"), errors: userErrors),
        Operation(method: "GET", path: "/datasets/{user_id}/{dataset_id}", tag: "datasets", summary: "A dataset's record and profile",
                  query: [("version", "v1, v2… (default: latest)", "string")], success: (200, "record and profile", "Dataset"), errors: userErrors),
        Operation(method: "DELETE", path: "/datasets/{user_id}/{dataset_id}", tag: "datasets", summary: "Delete every version, and the models trained automatically from it",
                  query: [("keep_models", "keep the automatic models", "boolean")], success: (200, "what was deleted", "DatasetDeletion"), errors: userErrors),
        Operation(method: "POST", path: "/datasets/{user_id}/{dataset_id}/recreate-models", tag: "datasets", summary: "Retrain the dataset's automatic models now",
                  body: .json("RetrainRequest"), success: (202, "the queued jobs", "JobList"), errors: userErrors + [409]),

        Operation(method: "POST", path: "/training/jobs", tag: "training", summary: "Queue a training job",
                  body: .json("TrainingRequest"), success: (202, "the queued job", "TrainingJob"), errors: [400, 401, 403, 404, 500]),
        Operation(method: "GET", path: "/training/jobs", tag: "training", summary: "A user's jobs, newest first",
                  query: [("user_id", "whose jobs (required)", "string")], success: (200, "jobs", "TrainingJobList"), errors: [400, 401, 403, 500]),
        Operation(method: "GET", path: "/training/jobs/{job_id}", tag: "training", summary: "A job's status, progress and result",
                  success: (200, "the job", "TrainingJob"), errors: [401, 404, 500]),
        Operation(method: "POST", path: "/training/jobs/{job_id}/cancel", tag: "training", summary: "Cancel a queued or running job",
                  success: (200, "the job", "TrainingJob"), errors: [401, 404, 409, 500]),
        Operation(method: "GET", path: "/training/jobs/{job_id}/events", tag: "training",
                  summary: "Server-Sent Events until the job ends with a terminal event (type complete, error or cancelled); Last-Event-ID resumes; an EventSource, which cannot send headers, passes ticket= instead of a token",
                  query: [("ticket", "from POST …/events-ticket: this job, 60 s, one stream", "string"), ("last_event_id", "resume after this event id", "integer")],
                  success: (200, "text/event-stream", "sse"), errors: [401, 404]),
        Operation(method: "POST", path: "/training/jobs/{job_id}/events-ticket", tag: "training",
                  summary: "A short-lived ticket (60 s, this job, single use) for GET …/events?ticket= from an EventSource; tokens never go into URLs",
                  success: (200, "the ticket", "EventsTicket"), errors: [401, 404, 500]),
    ]

    static let versionQuery: [(name: String, description: String, type: String)] = [
        ("version", "a version (v3) or @alias (default: latest)", "string"), ("alias", "an alias, same as version=@alias", "string"),
    ]

    static let listQuery: [(name: String, description: String, type: String)] = [
        ("framework", "pytorch, tensorflow, sklearn, onnx, keras, huggingface, other", "string"),
        ("model_type", "classification, regression, …", "string"), ("tags", "comma-separated; all must match", "string"),
        ("format", "a detected file format (safetensors, onnx, gguf…)", "string"),
        ("min_parameters", "at least this many parameters", "integer"), ("max_parameters", "at most this many parameters", "integer"),
        ("filter", "an expression such as framework = 'pytorch' AND (num_parameters > 1e9 OR tags IN ('prod')) AND metrics.f1 >= 0.9", "string"),
        ("order_by", "relevance, model_id, or a numeric/time field (metrics.f1 desc, created_at desc); ties by row id, missing values last", "string"),
        ("versions", "latest (default: each model's latest version is matched) or all (every version is a row)", "string"),
        ("scope", "user (default) or all: every user's models (admin token only)", "string"),
        ("cursor", "continue after a previous page (its X-Next-Cursor header)", "string"),
        ("skip", "results to skip", "integer"), ("limit", "at most this many (1-1000, default 100)", "integer"),
    ]

    static func uploadFields(file: String) -> [(String, String, Bool)] {
        [(file, "the file", true), ("user_id", "owner", true), ("model_id", "model id", true), ("version", "v1, v2… (default: next)", false),
         ("name", "display name", false), ("description", "description", false), ("framework", "detected when omitted", false),
         ("model_type", "classification, regression, …", false), ("algorithm", "algorithm", false), ("is_primary", "make this the primary file", false),
         ("tags", "comma-separated", false), ("training_accuracy", "number", false), ("validation_accuracy", "number", false),
         ("test_accuracy", "number", false), ("training_loss", "number", false), ("python_version", "text", false),
         ("hardware_requirements", "text", false),
         ("custom_metadata", "a JSON object, such as {\"metrics\": {\"f1\": 0.93}} (metrics.<name> filters read it)", false)]
    }

    static let errorDescriptions: [Int: String] = [
        400: "bad input", 401: "no or invalid token", 403: "another user's namespace (or not admin)", 404: "not found",
        409: "conflict", 412: "the commit's parent is no longer the head", 413: "too large", 416: "range not satisfiable",
        500: "internal error", 501: "not implemented (Xet)",
        503: "storage unavailable, or the work was cancelled (the server is stopping) and rolled back", 507: "the catalog's disk is full",
    ]

    /// Object schemas: (name, description, required properties, properties as name → type).
    static let schemas: [(String, String, [String], [(String, String)])] = [
        ("Error", "every error", ["detail"], [("detail", "string")]),
        ("HubJSON", "a JSON object as the Hugging Face Hub's clients send it (protocols/huggingface-hub.md)", [], []),
        ("MLflowJSON", "a JSON object as MLflow's clients send and read it (protocols/mlflow.md)", [], []),
        ("MLflowError", "every error of the MLflow surface", ["error_code", "message"], [("error_code", "string"), ("message", "string")]),
        ("Health", "service health", ["status"], [("status", "string"), ("storage", "string"), ("checks", "object"), ("detail", "string")]),
        ("TokenRequest", "", ["user_id"], [("user_id", "string")]),
        ("Token", "", ["id", "user_id"], [("id", "string"), ("user_id", "string"), ("token", "string"), ("created_at", "string")]),
        ("ModelFile", "", ["file_path"], [("filename", "string"), ("file_path", "string"), ("file_size", "integer"), ("file_type", "string"),
                                          ("file_hash", "string"), ("content_type", "string"), ("is_primary", "boolean"), ("format", "string")]),
        ("ModelVersion", "a version record (the seed schema plus detected formats); text search hits add snippet, the best-matching passage as escaped HTML with <mark> around matched terms", ["model_id", "user_id", "version"],
         [("model_id", "string"), ("user_id", "string"), ("name", "string"), ("description", "string"), ("version", "string"),
          ("framework", "string"), ("model_type", "string"), ("algorithm", "string"), ("files", "array:ModelFile"),
          ("primary_file_path", "string"), ("input_shape", "any"), ("output_shape", "any"), ("num_parameters", "integer"),
          ("model_size_mb", "number"), ("training_dataset", "string"), ("training_accuracy", "number"), ("validation_accuracy", "number"),
          ("test_accuracy", "number"), ("training_loss", "number"), ("tags", "array:string"), ("custom_metadata", "object"),
          ("created_at", "string"), ("updated_at", "string"), ("is_active", "boolean"), ("is_production_ready", "boolean"),
          ("aliases", "array:string"), ("snippet", "string")]),
        ("UploadSessionRequest", "the upload fields of /ai-models/upload/single (tags a string or a list, custom_metadata an object) plus the files",
         ["user_id", "model_id", "files"],
         [("user_id", "string"), ("model_id", "string"), ("version", "string"), ("name", "string"), ("description", "string"),
          ("framework", "string"), ("model_type", "string"), ("algorithm", "string"), ("tags", "any"),
          ("training_accuracy", "number"), ("validation_accuracy", "number"), ("test_accuracy", "number"), ("training_loss", "number"),
          ("python_version", "string"), ("hardware_requirements", "string"), ("custom_metadata", "object"),
          ("files", "array:UploadSessionFileRequest"), ("primary_file", "string"), ("part_size", "integer"), ("presigned", "boolean"),
          ("expires_in_seconds", "integer")]),
        ("UploadSessionFileRequest", "one file of the version: its relative path, size in bytes and (optional) SHA-256", ["path", "size"],
         [("path", "string"), ("size", "integer"), ("sha256", "string")]),
        ("UploadSession", "state: open, completing, completed, aborted, expired or failed (detail says why)", ["session_id", "state", "files"],
         [("session_id", "string"), ("user_id", "string"), ("model_id", "string"), ("version", "string"), ("state", "string"),
          ("part_size", "integer"), ("presigned", "boolean"), ("created_at", "string"), ("expires_at", "string"), ("detail", "string"),
          ("files", "array:UploadSessionFile"), ("part_url", "string")]),
        ("UploadSessionFile", "", ["path", "size", "part_count", "missing_parts"],
         [("path", "string"), ("size", "integer"), ("sha256", "string"), ("part_count", "integer"), ("received_parts", "array:integer"),
          ("missing_parts", "array:integer"), ("received_bytes", "integer")]),
        ("UploadPart", "", ["file", "part_number", "size", "sha256"],
         [("file", "string"), ("part_number", "integer"), ("size", "integer"), ("sha256", "string"), ("etag", "string")]),
        ("PresignedPart", "", ["url", "method"], [("url", "string"), ("method", "string"), ("expires_at", "string"), ("size", "integer")]),
        ("SessionAbort", "", ["session_id", "aborted"], [("session_id", "string"), ("aborted", "boolean")]),
        ("MetadataUpdate", "fields to change (model_id, user_id, version, files, dates and sizes cannot)", [],
         [("name", "string"), ("description", "string"), ("tags", "array:string"), ("is_production_ready", "boolean"), ("custom_metadata", "object")]),
        ("Deletion", "", ["deleted"], [("deleted", "boolean"), ("user_id", "string"), ("model_id", "string"), ("deleted_versions", "array:string")]),
        ("AliasRequest", "", ["version"], [("version", "string")]),
        ("Aliases", "", ["aliases"], [("user_id", "string"), ("model_id", "string"), ("aliases", "object"), ("history", "array:object")]),
        ("RollbackRequest", "optional body", [], [("reason", "string")]),
        ("Rollback", "", ["version"], [("user_id", "string"), ("model_id", "string"), ("alias", "string"), ("from_version", "string"), ("version", "string")]),
        ("Notification", "", ["id", "outcome"], [("id", "integer"), ("outcome", "string"), ("model_id", "string"), ("version", "string"),
                                                   ("metric", "string"), ("score", "number"), ("production_version", "string"),
                                                   ("production_score", "number"), ("reason", "string"), ("job_id", "string"), ("created_at", "string")]),
        ("PredictionRequest", "rows of column → value", ["rows"], [("rows", "array:object")]),
        ("Prediction", "", ["predictions", "prediction_ids"], [("model_id", "string"), ("version", "string"), ("predictions", "array:any"),
                                                                ("probabilities", "array:any"), ("classes", "array:any"), ("prediction_ids", "array:string")]),
        ("FeedbackRequest", "one outcome, or items of them", [], [("prediction_id", "string"), ("actual", "any"), ("items", "array:object")]),
        ("FeedbackReceipt", "", ["recorded"], [("recorded", "integer"), ("new", "integer"), ("updated", "integer"), ("retraining", "object")]),
        ("Performance", "", ["versions"], [("user_id", "string"), ("model_id", "string"), ("task", "string"), ("production_version", "string"),
                                           ("versions", "array:object"), ("retraining", "object")]),
        ("RetrainRequest", "optional body", [], [("time_limit_s", "number"), ("include_feedback", "boolean")]),
        ("RetrainingSettings", "", ["enabled"], [("enabled", "boolean"), ("accuracy_threshold", "number"), ("feedback_count", "integer"), ("overrides", "object")]),
        ("RetrainingUpdate", "", [], [("enabled", "boolean"), ("accuracy_threshold", "number"), ("feedback_count", "integer")]),
        ("Dataset", "a dataset version with its profile", ["dataset_id"], [("user_id", "string"), ("dataset_id", "string"), ("version", "string"),
                                                                          ("rows", "integer"), ("columns", "array:object"), ("target_column", "string"),
                                                                          ("task_type", "string"), ("sample_data", "array:object"),
                                                                          ("training_refusal", "string")]),
        ("DatasetUpload", "training_job and automatic_model are null and training_refusal says why when the dataset cannot be trained on", ["dataset_id"],
         [("dataset_id", "string"), ("version", "string"), ("training_job", "object"), ("automatic_model", "object"), ("training_refusal", "string")]),
        ("DatasetHit", "a dataset search hit: the latest version's summary and the best-matching passage as escaped HTML with <mark> around matched terms",
         ["dataset_id"], [("user_id", "string"), ("dataset_id", "string"), ("version", "string"), ("name", "string"), ("description", "string"),
                          ("rows", "integer"), ("columns", "integer"), ("target_column", "string"), ("task_type", "string"), ("snippet", "string")]),
        ("DatasetModels", "", ["models"], [("models", "array:ModelVersion")]),
        ("ChatRequest", "history: earlier turns, roles user or assistant", ["message"],
         [("message", "string"), ("history", "array:object"), ("stream", "boolean")]),
        ("ChatAnswer", "facts: every fact sent as context, numbered from 1; facts_used: those the answer cites", ["answer", "facts"],
         [("answer", "string"), ("facts", "array:string"), ("facts_used", "array:integer")]),
        ("RecommendationRequest", "optional body", [], [("target_column", "string"), ("time_limit_s", "number"), ("version", "string")]),
        ("Recommendation", "", ["algorithm", "reason", "estimated_seconds", "options"],
         [("algorithm", "string"), ("rank", "integer"), ("reason", "string"), ("estimated_seconds", "number"), ("estimate_source", "string"),
          ("options", "object")]),
        ("Recommendations", "", ["recommendations", "based_on"],
         [("dataset_id", "string"), ("version", "string"), ("recommendations", "array:Recommendation"), ("based_on", "string")]),
        ("DatasetAnalysis", "features: [{name, type, mutual_information, pearson?, spearman?, cramers_v?, missing}], pairs: [{a, b, measure, value}], importances: [{name, importance}]",
         ["target", "rows_used", "sampled", "features"],
         [("dataset_id", "string"), ("version", "string"), ("target", "string"), ("task", "string"), ("rows", "integer"), ("rows_used", "integer"),
          ("sampled", "boolean"), ("method", "string"), ("features", "array:object"), ("pairs", "array:object"),
          ("target_distribution", "object"), ("outliers", "object"), ("importances", "array:object"), ("importances_from", "object"),
          ("cached", "boolean"), ("seconds", "number")]),
        ("ValidationPlan", "how candidates are validated", ["kind"], [("kind", "string"), ("fraction", "number"), ("folds", "integer")]),
        ("TrainingOptions", "the options a job was asked for (job) or resolved to (result, custom_metadata.training_options)", [],
         [("preset", "string"), ("algorithms", "array:string"), ("feature_columns", "array:string"), ("exclude_columns", "array:string"),
          ("validation", "ValidationPlan"), ("seed", "integer")]),
        ("DatasetDeletion", "", ["deleted"], [("deleted", "boolean"), ("deleted_versions", "array:string"), ("deleted_models", "array:object")]),
        ("TrainingRequest", "", ["user_id", "dataset_id"], [("user_id", "string"), ("dataset_id", "string"), ("dataset_version", "string"),
                                                            ("model_id", "string"), ("target_column", "string"), ("task_type", "string"),
                                                            ("time_limit_s", "number"), ("metric", "string"), ("seed", "integer"),
                                                            ("test_fraction", "number"), ("name", "string"), ("description", "string"),
                                                            ("include_feedback", "boolean"),
                                                            ("preset", "string"), ("algorithms", "array:string"),
                                                            ("feature_columns", "array:string"), ("exclude_columns", "array:string"),
                                                            ("validation", "ValidationPlan")]),
        ("TrainingJob", "", ["job_id", "status"], [("job_id", "string"), ("user_id", "string"), ("dataset_id", "string"), ("model_id", "string"),
                                                   ("status", "string"), ("progress", "number"), ("message", "string"), ("result", "object"),
                                                   ("error", "string"), ("created_at", "string"), ("started_at", "string"), ("finished_at", "string"),
                                                   ("request", "TrainingRequest"), ("training_options", "TrainingOptions")]),
        ("JobList", "", ["jobs"], [("jobs", "array:TrainingJob")]),
        ("EventsTicket", "", ["ticket", "expires_at"], [("ticket", "string"), ("expires_at", "string"), ("job_id", "string"), ("events_url", "string")]),
    ]

    static let arrays: [(String, String)] = [
        ("TokenList", "Token"), ("ModelVersionList", "ModelVersion"), ("FileList", "ModelFile"), ("NotificationList", "Notification"),
        ("DatasetList", "Dataset"), ("TrainingJobList", "TrainingJob"), ("DatasetHitList", "DatasetHit"),
    ]

    static func type(_ text: String) -> JSONValue {
        if text.hasPrefix("array:") { return .object(["type": .string("array"), "items": type(String(text.dropFirst(6)))]) }
        switch text {
        case "string", "integer", "number", "boolean", "object": return .object(["type": .string(text)])
        case "any": return .object([:])
        default: return .object(["$ref": .string("#/components/schemas/\(text)")])
        }
    }

    static func document() -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations + uiOperations + hubOperations + mlflowOperations {
            var parameters: [JSONValue] = pathParameters(operation.path).map { name in
                .object(["name": .string(name), "in": .string("path"), "required": .bool(true),
                         "schema": .object(["type": .string("string")])])
            }
            parameters += operation.query.map { query in
                .object(["name": .string(query.name), "in": .string("query"), "description": .string(query.description),
                         "required": .bool(query.description.contains("(required)")), "schema": type(query.type)])
            }
            parameters += operation.headers.map { header in
                .object(["name": .string(header.name), "in": .string("header"), "description": .string(header.description),
                         "required": .bool(true), "schema": .object(["type": .string("string")])])
            }
            var entry: [String: JSONValue] = [
                "summary": .string(operation.summary), "tags": .array([.string(operation.tag)]),
                "operationId": .string(operationID(operation)),
            ]
            if !parameters.isEmpty { entry["parameters"] = .array(parameters) }
            if let body = operation.body { entry["requestBody"] = requestBody(body) }
            switch operation.security {
            case "cookie": entry["security"] = .array([.object(["cookie": .array([])])])
            case "none": entry["security"] = .array([])
            default: break
            }
            var responses: [String: JSONValue] = ["\(operation.success.status)": successResponse(operation.success)]
            for status in operation.errors {
                responses[String(status)] = .object([
                    "description": .string(errorDescriptions[status] ?? "error"),
                    "content": .object(["application/json": .object(["schema": type(operation.errorSchema)])]),
                ])
            }
            entry["responses"] = .object(responses)
            paths[operation.path, default: [:]][operation.method.lowercased()] = .object(entry)
        }
        var components: [String: JSONValue] = [:]
        for (name, description, required, properties) in schemas {
            var schema: [String: JSONValue] = [
                "type": .string("object"),
                "properties": .object(Dictionary(uniqueKeysWithValues: properties.map { ($0.0, type($0.1)) })),
            ]
            if !description.isEmpty { schema["description"] = .string(description) }
            if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
            components[name] = .object(schema)
        }
        for (name, item) in arrays { components[name] = .object(["type": .string("array"), "items": type(item)]) }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string("Model Warehouse"), "version": .string("1.0.0"),
                "description": .string("Store, find, download and train machine-learning models. Every request but GET /health carries Authorization: Bearer TOKEN. Every response carries X-Request-ID: the request's own when it sent one of 1-128 letters, digits and -_.:, else a new one; logged failures name it."),
            ]),
            "servers": .array([.object(["url": .string("/")])]),
            "security": .array([.object(["bearer": .array([])])]),
            "paths": .object(paths.mapValues(JSONValue.object)),
            "components": .object([
                "schemas": .object(components),
                "securitySchemes": .object([
                    "bearer": .object(["type": .string("http"), "scheme": .string("bearer")]),
                    "cookie": .object(["type": .string("apiKey"), "in": .string("cookie"), "name": .string("warehouse_session"),
                                       "description": .string("the web UI's session, set by POST /ui/login")]),
                ]),
            ]),
        ])
    }

    /// The `{name}`s of a path template (`{model_id}.git` included).
    static func pathParameters(_ path: String) -> [String] {
        var names: [String] = []
        var current: String?
        for character in path {
            if character == "{" { current = "" } else if character == "}", let name = current { names.append(name); current = nil } else { current?.append(character) }
        }
        return names
    }

    static func operationID(_ operation: Operation) -> String {
        let words = operation.path.split(separator: "/").map { part -> String in
            let clean = part.hasPrefix("{") ? "by_" + part.dropFirst().replacingOccurrences(of: "}", with: "") : String(part)
            return clean.replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: ".", with: "_")
        }
        return ([operation.method.lowercased()] + words).joined(separator: "_")
    }

    static func requestBody(_ body: Body) -> JSONValue {
        switch body {
        case .json(let schema):
            return .object(["required": .bool(!schema.hasSuffix("Request") || ["TokenRequest", "AliasRequest", "FeedbackRequest", "TrainingRequest"].contains(schema)),
                            "content": .object(["application/json": .object(["schema": type(schema)])])])
        case .form(let fields):
            return .object(["required": .bool(true), "content": .object(["application/x-www-form-urlencoded": .object(["schema": .object([
                "type": .string("object"),
                "properties": .object(Dictionary(uniqueKeysWithValues: fields.map { ($0, JSONValue.object(["type": .string("string")])) })),
            ])])])])
        case .jsonOrCSV(let schema):
            return .object(["required": .bool(true), "content": .object([
                "application/json": .object(["schema": type(schema)]),
                "text/csv": .object(["schema": .object(["type": .string("string"), "description": .string("a header row, then rows")])]),
            ])])
        case .octets(let description):
            return .object(["required": .bool(true), "content": .object(["application/octet-stream": .object(["schema": .object([
                "type": .string("string"), "format": .string("binary"), "description": .string(description),
            ])])])])
        case .multipart(let fields):
            let properties = Dictionary(uniqueKeysWithValues: fields.map { field -> (String, JSONValue) in
                let binary = field.0 == "file" || field.0 == "zip_file"
                return (field.0, .object(["type": .string("string"), "description": .string(field.1)]
                    .merging(binary ? ["format": .string("binary")] : [:]) { $1 }))
            })
            return .object(["required": .bool(true), "content": .object(["multipart/form-data": .object(["schema": .object([
                "type": .string("object"), "properties": .object(properties),
                "required": .array(fields.filter(\.2).map { .string($0.0) }),
            ])])])])
        }
    }

    static func successResponse(_ success: (status: Int, description: String, content: String)) -> JSONValue {
        let content: JSONValue
        switch success.content {
        case "binary":
            content = .object(["application/octet-stream": .object(["schema": .object(["type": .string("string"), "format": .string("binary")])]),
                               "application/zip": .object(["schema": .object(["type": .string("string"), "format": .string("binary")])])])
        case "text": content = .object(["text/plain": .object(["schema": .object(["type": .string("string")])])])
        case "html": content = .object(["text/html": .object(["schema": .object(["type": .string("string")])])])
        case "sse": content = .object(["text/event-stream": .object(["schema": .object(["type": .string("string")])])])
        default: content = .object(["application/json": .object(["schema": type(success.content)])])
        }
        return .object(["description": .string(success.description), "content": content])
    }
}
