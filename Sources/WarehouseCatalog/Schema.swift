import WarehouseSQLite

/// The catalog's migrations, applied in order. Never edit an applied one; append.
enum Schema {
    static let migrator = SQLiteMigrator([
        .init("001-versions-files-search", """
            CREATE TABLE versions (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                version TEXT NOT NULL,
                major INTEGER NOT NULL,
                minor INTEGER NOT NULL,
                patch INTEGER NOT NULL,
                -- pending: being uploaded, invisible; ready: visible; deleting: invisible, objects being removed
                state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'deleting')),
                name TEXT NOT NULL DEFAULT '',
                description TEXT NOT NULL DEFAULT '',
                algorithm TEXT NOT NULL DEFAULT '',
                framework TEXT NOT NULL DEFAULT 'other',
                model_type TEXT NOT NULL DEFAULT 'other',
                -- space-separated, for full-text search; version_tags is the filterable form
                tags TEXT NOT NULL DEFAULT '',
                -- the version record as JSON, without its files (those live in `files`)
                record TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (user_id, model_id, version)
            );
            CREATE INDEX versions_by_model ON versions (user_id, model_id, state, major, minor, patch);

            CREATE TABLE version_tags (
                version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
                tag TEXT NOT NULL COLLATE NOCASE,
                PRIMARY KEY (version_id, tag)
            ) WITHOUT ROWID;
            CREATE INDEX version_tags_by_tag ON version_tags (tag, version_id);

            CREATE TABLE files (
                id INTEGER PRIMARY KEY,
                version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
                file_path TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
                filename TEXT NOT NULL,
                file_size INTEGER NOT NULL,
                file_type TEXT NOT NULL,
                file_hash TEXT NOT NULL,
                content_type TEXT NOT NULL,
                is_primary INTEGER NOT NULL DEFAULT 0,
                description TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (version_id, file_path)
            );

            -- External-content FTS5 index over the searchable columns, kept in step by triggers.
            CREATE VIRTUAL TABLE versions_fts USING fts5 (
                name, description, tags, algorithm, model_id,
                content = 'versions', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
            );
            CREATE TRIGGER versions_fts_insert AFTER INSERT ON versions BEGIN
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id);
            END;
            CREATE TRIGGER versions_fts_delete AFTER DELETE ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id);
            END;
            CREATE TRIGGER versions_fts_update AFTER UPDATE OF name, description, tags, algorithm ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id);
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id);
            END;
            """),
        .init("002-formats-parameters-details", """
            ALTER TABLE files ADD COLUMN format TEXT;
            -- space-separated detected formats of the files, for format= filters
            ALTER TABLE versions ADD COLUMN formats TEXT NOT NULL DEFAULT '';
            ALTER TABLE versions ADD COLUMN num_parameters INTEGER;
            -- what detection found (architecture, classes, producer…), for full-text search
            ALTER TABLE versions ADD COLUMN details TEXT NOT NULL DEFAULT '';
            CREATE INDEX versions_by_parameters ON versions (user_id, num_parameters);

            DROP TRIGGER versions_fts_insert;
            DROP TRIGGER versions_fts_delete;
            DROP TRIGGER versions_fts_update;
            DROP TABLE versions_fts;
            CREATE VIRTUAL TABLE versions_fts USING fts5 (
                name, description, tags, algorithm, model_id, details,
                content = 'versions', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
            );
            CREATE TRIGGER versions_fts_insert AFTER INSERT ON versions BEGIN
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id, details)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id, new.details);
            END;
            CREATE TRIGGER versions_fts_delete AFTER DELETE ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id, details)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id, old.details);
            END;
            CREATE TRIGGER versions_fts_update AFTER UPDATE OF name, description, tags, algorithm, details ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id, details)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id, old.details);
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id, details)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id, new.details);
            END;
            INSERT INTO versions_fts (versions_fts) VALUES ('rebuild');
            """),
        .init("003-tokens", """
            -- API tokens: only the SHA-256 of the secret is kept.
            CREATE TABLE tokens (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE INDEX tokens_by_user ON tokens (user_id);
            """),
        .init("004-datasets-training-jobs", """
            -- One row per uploaded dataset version; `record` is the DatasetRecord as JSON
            -- (profile included). Pending rows are uploads in progress, invisible to readers.
            CREATE TABLE datasets (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                dataset_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
                record TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                UNIQUE (user_id, dataset_id, version)
            );

            -- Training jobs: `request` and `result` are JSON; events are the SSE history.
            CREATE TABLE training_jobs (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                dataset_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                progress REAL NOT NULL DEFAULT 0,
                message TEXT NOT NULL DEFAULT '',
                request TEXT NOT NULL,
                result TEXT,
                error TEXT,
                created_at TEXT NOT NULL,
                started_at TEXT,
                finished_at TEXT
            );
            CREATE INDEX training_jobs_by_state ON training_jobs (state, created_at);
            CREATE INDEX training_jobs_by_user ON training_jobs (user_id, created_at);

            CREATE TABLE training_job_events (
                job_id TEXT NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (job_id, seq)
            ) WITHOUT ROWID;
            """),
        .init("005-lifecycle", """
            -- Named pointers to versions (`production`, …): one version per alias.
            CREATE TABLE aliases (
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                alias TEXT NOT NULL,
                version TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (user_id, model_id, alias)
            ) WITHOUT ROWID;
            -- Every move of an alias; `version` NULL when it was removed.
            CREATE TABLE alias_history (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                alias TEXT NOT NULL,
                version TEXT,
                previous_version TEXT,
                action TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL
            );
            CREATE INDEX alias_history_by_alias ON alias_history (user_id, model_id, alias, id);

            -- Promotions, refusals, rollbacks, failures, retraining starts; `data` is the JSON.
            CREATE TABLE notifications (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                data TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            CREATE INDEX notifications_by_user ON notifications (user_id, id);

            -- Every prediction /predict answered: its inputs (feature columns, JSON) and answer.
            CREATE TABLE predictions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                version TEXT NOT NULL,
                predicted TEXT NOT NULL,
                inputs TEXT NOT NULL,
                created_at TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX predictions_by_model ON predictions (user_id, model_id, version);

            -- The actual outcome of a prediction, one per prediction (a later report replaces it).
            CREATE TABLE feedback (
                prediction_id TEXT PRIMARY KEY REFERENCES predictions (id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                version TEXT NOT NULL,
                predicted TEXT NOT NULL,
                actual TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX feedback_by_model ON feedback (user_id, model_id, created_at);

            -- Per-model retraining thresholds; NULL means the server's default.
            CREATE TABLE retraining_settings (
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                enabled INTEGER,
                accuracy_threshold REAL,
                feedback_count INTEGER,
                PRIMARY KEY (user_id, model_id)
            ) WITHOUT ROWID;
            CREATE INDEX training_jobs_by_model ON training_jobs (user_id, model_id, state);
            """),
        .init("006-search-at-scale", """
            -- The record JSON leaves `versions`: scans of the searchable columns then read about
            -- 400 bytes a row instead of 2 KB (at 100,000 models a filter scan took 150 ms, 40 after).
            CREATE TABLE version_records (
                version_id INTEGER PRIMARY KEY REFERENCES versions (id) ON DELETE CASCADE,
                record TEXT NOT NULL
            );
            INSERT INTO version_records (version_id, record) SELECT id, record FROM versions;
            ALTER TABLE versions DROP COLUMN record;

            -- Filterable and sortable values that used to be read from the JSON.
            ALTER TABLE versions ADD COLUMN training_accuracy REAL;
            ALTER TABLE versions ADD COLUMN validation_accuracy REAL;
            ALTER TABLE versions ADD COLUMN test_accuracy REAL;
            ALTER TABLE versions ADD COLUMN training_loss REAL;
            ALTER TABLE versions ADD COLUMN training_dataset TEXT;
            ALTER TABLE versions ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0;
            -- 1 on the highest ready version of each model (what listing and search match by
            -- default), kept in step by the triggers below whenever a version changes state.
            ALTER TABLE versions ADD COLUMN latest INTEGER NOT NULL DEFAULT 0;
            -- A random number set by every write of the record: caches of decoded and encoded
            -- records key on it (random, so a rolled-back write can never reuse a value).
            ALTER TABLE versions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
            UPDATE versions SET revision = random();

            -- Scalar leaves of custom_metadata by dotted path (metrics.test.f1, team…), so that
            -- metrics.<name> and custom.<key> filter and sort without parsing JSON per row.
            CREATE TABLE version_fields (
                version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                user_id TEXT NOT NULL,
                number REAL,
                text TEXT,
                PRIMARY KEY (version_id, path)
            ) WITHOUT ROWID;
            -- filters select by value across users; sorted listings walk one user's values in order
            CREATE INDEX version_fields_by_number ON version_fields (path, number);
            CREATE INDEX version_fields_by_user ON version_fields (user_id, path, number);

            CREATE TRIGGER versions_latest_on_state AFTER UPDATE OF state ON versions BEGIN
                UPDATE versions SET latest = 1 - latest
                WHERE user_id = new.user_id AND model_id = new.model_id AND latest != (id IS (
                    SELECT w.id FROM versions w WHERE w.user_id = new.user_id AND w.model_id = new.model_id AND w.state = 'ready'
                    ORDER BY w.major DESC, w.minor DESC, w.patch DESC LIMIT 1));
            END;
            CREATE TRIGGER versions_latest_on_delete AFTER DELETE ON versions BEGIN
                UPDATE versions SET latest = 1 - latest
                WHERE user_id = old.user_id AND model_id = old.model_id AND latest != (id IS (
                    SELECT w.id FROM versions w WHERE w.user_id = old.user_id AND w.model_id = old.model_id AND w.state = 'ready'
                    ORDER BY w.major DESC, w.minor DESC, w.patch DESC LIMIT 1));
            END;
            -- Each user's number of models (versions with latest = 1), so a plain listing's total
            -- is one row read instead of counting 90,000 index entries (7 ms).
            CREATE TABLE model_counts (
                user_id TEXT PRIMARY KEY,
                models INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TRIGGER model_counts_on_latest AFTER UPDATE OF latest ON versions WHEN new.latest != old.latest BEGIN
                INSERT INTO model_counts (user_id, models) VALUES (new.user_id, 0) ON CONFLICT DO NOTHING;
                UPDATE model_counts SET models = models + new.latest - old.latest WHERE user_id = new.user_id;
            END;
            CREATE TRIGGER model_counts_on_delete AFTER DELETE ON versions WHEN old.latest = 1 BEGIN
                UPDATE model_counts SET models = models - 1 WHERE user_id = old.user_id;
            END;
            UPDATE versions SET latest = (id IS (
                SELECT w.id FROM versions w WHERE w.user_id = versions.user_id AND w.model_id = versions.model_id AND w.state = 'ready'
                ORDER BY w.major DESC, w.minor DESC, w.patch DESC LIMIT 1));

            -- Chosen with EXPLAIN QUERY PLAN and timings on bench/search's 100,000 models
            -- (CatalogQueryPlanTests pins them): listing pages in model_id order and counts walk
            -- latest_by_model; framework/type filters start from latest_by_framework; every
            -- sortable field streams its first page from its own index instead of sorting.
            DROP INDEX versions_by_parameters;
            -- latest_by_model carries the numeric and enum columns, so filters on them are answered
            -- from the index alone (0.15 µs a model instead of 1.5 µs for a table lookup); `latest`
            -- itself is listed because SQLite reads a partial index's condition from the table.
            CREATE INDEX latest_by_model ON versions (user_id, model_id, framework, model_type, num_parameters, size_bytes,
                training_accuracy, validation_accuracy, test_accuracy, training_loss, created_at, updated_at, latest) WHERE latest = 1;
            CREATE INDEX latest_by_framework ON versions (user_id, framework, model_type, num_parameters, size_bytes,
                test_accuracy, validation_accuracy, model_id, latest) WHERE latest = 1;
            CREATE INDEX latest_by_created ON versions (user_id, created_at) WHERE latest = 1;
            CREATE INDEX latest_by_updated ON versions (user_id, updated_at) WHERE latest = 1;
            CREATE INDEX latest_by_parameters ON versions (user_id, num_parameters) WHERE latest = 1;
            CREATE INDEX latest_by_size ON versions (user_id, size_bytes) WHERE latest = 1;
            CREATE INDEX latest_by_training_accuracy ON versions (user_id, training_accuracy) WHERE latest = 1;
            CREATE INDEX latest_by_validation_accuracy ON versions (user_id, validation_accuracy) WHERE latest = 1;
            CREATE INDEX latest_by_test_accuracy ON versions (user_id, test_accuracy) WHERE latest = 1;
            CREATE INDEX latest_by_training_loss ON versions (user_id, training_loss) WHERE latest = 1;
            """, backfill: Catalog.backfillSearchColumns),
        // metrics.<name> finds a user's own metrics too: derived `@metrics.<name>` fields.
        .init("007-held-out-metrics", "DELETE FROM version_fields WHERE path LIKE '@%';",
                                 backfill: Catalog.backfillHeldOutMetrics),
        // A version staged while its file arrived kept the staging time in `created_at`, not
        // the record's: filters and sorts on it read the record's now.
        .init("008-created-at-from-records", """
            UPDATE versions SET created_at = (SELECT json_extract(r.record, '$.created_at') FROM version_records r WHERE r.version_id = versions.id)
            WHERE id IN (SELECT version_id FROM version_records WHERE json_extract(record, '$.created_at') IS NOT NULL);
            """),
        // The store's ETag of each committed object (S3), which downloads compare.
        .init("009-store-etags", "ALTER TABLE files ADD COLUMN store_etag TEXT;"),
        // Resumable uploads: a session reserves its version (a pending row that startup
        // recovery leaves alone while the session is open) and records each part that arrived.
        .init("010-upload-sessions", """
            CREATE TABLE upload_sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                version_id INTEGER REFERENCES versions (id) ON DELETE SET NULL,
                version TEXT NOT NULL,
                -- open: parts may arrive; completing: being committed; then completed, aborted, expired or failed
                state TEXT NOT NULL CHECK (state IN ('open', 'completing', 'completed', 'aborted', 'expired', 'failed')),
                part_size INTEGER NOT NULL,
                presigned INTEGER NOT NULL DEFAULT 0,
                -- the creation request as JSON (upload fields, primary file)
                request TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                -- why it failed, or nothing
                detail TEXT
            );
            CREATE INDEX upload_sessions_by_state ON upload_sessions (state, expires_at);
            CREATE TABLE upload_session_files (
                session_id TEXT NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                path TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT,
                -- the store's parted upload (none for an empty file)
                upload_id TEXT,
                PRIMARY KEY (session_id, position),
                UNIQUE (session_id, path)
            ) WITHOUT ROWID;
            CREATE TABLE upload_session_parts (
                session_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                number INTEGER NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                -- the store's part number holding it
                store_number INTEGER NOT NULL,
                -- the store's ETag; none yet for a part announced for a presigned URL
                etag TEXT,
                received_at TEXT NOT NULL,
                PRIMARY KEY (session_id, position, number),
                FOREIGN KEY (session_id, position) REFERENCES upload_session_files (session_id, position) ON DELETE CASCADE
            ) WITHOUT ROWID;
            """),
        .init("011-replication", """
            -- What a replica sharing its bucket with others has applied of their change log.
            CREATE TABLE replication_state (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) WITHOUT ROWID;
            -- A notification made on any replica: its id in the bucket (NULL: made before sharing).
            ALTER TABLE notifications ADD COLUMN shared_id TEXT;
            CREATE UNIQUE INDEX notifications_by_shared_id ON notifications (shared_id);
            """),
        .init("012-commits-and-registered-models", """
            -- Each version's commit id (git-shaped clients pin revisions to it); NULL until the
            -- service fills rows written before it existed.
            ALTER TABLE versions ADD COLUMN commit_sha TEXT;
            -- Led by the id, so that the planner never takes it for a listing by user.
            CREATE INDEX versions_by_commit ON versions (commit_sha);
            -- Models created before any version (the Hub's create_repo, MLflow's registered
            -- models); a model with versions needs no row here.
            CREATE TABLE registered_models (
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (user_id, model_id)
            ) WITHOUT ROWID;
            """),
        .init("013-registered-model-records", """
            -- The model's own record as its manifest holds it (description, custom_metadata:
            -- MLflow's registered-model fields); NULL for rows written before it.
            ALTER TABLE registered_models ADD COLUMN record TEXT;
            """),
        .init("014-dataset-search", """
            -- Full-text index over each ready dataset version: name, description, column names,
            -- target and id (the same engine and ranking as model search), kept by triggers.
            CREATE VIRTUAL TABLE datasets_fts USING fts5 (name, description, columns, target, dataset_id,
                                                          tokenize = 'unicode61 remove_diacritics 2');
            CREATE TRIGGER datasets_fts_ready AFTER UPDATE OF state, record ON datasets WHEN new.state = 'ready' BEGIN
                DELETE FROM datasets_fts WHERE rowid = new.id;
                INSERT INTO datasets_fts (rowid, name, description, columns, target, dataset_id) SELECT new.id, coalesce(json_extract(new.record, '$.name'), ''),
                    coalesce(json_extract(new.record, '$.description'), ''),
                    coalesce((SELECT group_concat(json_extract(c.value, '$.name'), ' ') FROM json_each(new.record, '$.profile.columns') c), ''),
                    coalesce(json_extract(new.record, '$.target_column'), ''), new.dataset_id;
            END;
            CREATE TRIGGER datasets_fts_delete AFTER DELETE ON datasets BEGIN
                DELETE FROM datasets_fts WHERE rowid = old.id;
            END;
            INSERT INTO datasets_fts (rowid, name, description, columns, target, dataset_id) SELECT d.id, coalesce(json_extract(d.record, '$.name'), ''),
                    coalesce(json_extract(d.record, '$.description'), ''),
                    coalesce((SELECT group_concat(json_extract(c.value, '$.name'), ' ') FROM json_each(d.record, '$.profile.columns') c), ''),
                    coalesce(json_extract(d.record, '$.target_column'), ''), d.dataset_id FROM datasets d WHERE d.state = 'ready';
            """),
    ])
}
