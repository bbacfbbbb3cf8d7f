-- The schema release 0.1.0 (main at 12dd236) created with metadata.create_all on sqlite,
-- before migrations existed: the starting point of the upgrade tests.

CREATE TABLE aggregates (
	id INTEGER NOT NULL, 
	deployment_id VARCHAR(48) NOT NULL, 
	timestamp DATETIME NOT NULL, 
	window_end DATETIME, 
	column_name TEXT NOT NULL, 
	is_baseline BOOLEAN NOT NULL, 
	is_response BOOLEAN NOT NULL, 
	logical_type INTEGER NOT NULL, 
	bin_edges JSON, 
	bin_counts JSON, 
	value_counts JSON, 
	missing_counts BIGINT NOT NULL, 
	count BIGINT NOT NULL, 
	mean FLOAT, 
	standard_deviation FLOAT, 
	min FLOAT, 
	max FLOAT, 
	finite_count BIGINT, 
	m2 FLOAT, 
	invalid_counts BIGINT NOT NULL, 
	pos_inf_counts BIGINT, 
	neg_inf_counts BIGINT, 
	other_counts BIGINT, 
	max_categories INTEGER, 
	row_count BIGINT NOT NULL, 
	computed_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_aggregates_window_column UNIQUE (deployment_id, timestamp, is_baseline, column_name)
);

CREATE INDEX ix_aggregates_deployment_window ON aggregates (deployment_id, is_baseline, timestamp);

CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	dedup_key TEXT NOT NULL, 
	deployment_id VARCHAR(48) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	severity VARCHAR(32) NOT NULL, 
	window_start DATETIME, 
	window_end DATETIME, 
	granularity VARCHAR(32), 
	column_name TEXT, 
	metric VARCHAR(64), 
	value FLOAT, 
	p_value FLOAT, 
	threshold FLOAT, 
	status VARCHAR(32), 
	reason TEXT, 
	payload JSON, 
	created_at DATETIME NOT NULL, 
	slack_channel TEXT, 
	slack_status VARCHAR(16) NOT NULL, 
	slack_attempts INTEGER NOT NULL, 
	slack_last_error TEXT, 
	slack_claimed_at DATETIME, 
	slack_sent_at DATETIME, 
	slack_ts TEXT, 
	slack_unconfirmed BOOLEAN NOT NULL, 
	cloudwatch JSON, 
	cloudwatch_status VARCHAR(16) NOT NULL, 
	cloudwatch_attempts INTEGER NOT NULL, 
	cloudwatch_last_error TEXT, 
	cloudwatch_claimed_at DATETIME, 
	cloudwatch_sent_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (dedup_key)
);

CREATE INDEX ix_alerts_cloudwatch_status ON alerts (cloudwatch_status, id);

CREATE INDEX ix_alerts_history ON alerts (deployment_id, column_name, metric, window_start);

CREATE INDEX ix_alerts_slack_status ON alerts (slack_status, id);

CREATE TABLE drift_scores (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	deployment_id VARCHAR(48) NOT NULL, 
	window_start DATETIME NOT NULL, 
	window_end DATETIME NOT NULL, 
	granularity VARCHAR(32) NOT NULL, 
	column_name TEXT NOT NULL, 
	metric VARCHAR(64) NOT NULL, 
	value FLOAT, 
	p_value FLOAT, 
	threshold FLOAT, 
	status VARCHAR(32) NOT NULL, 
	drifted BOOLEAN NOT NULL, 
	reference_size BIGINT NOT NULL, 
	current_size BIGINT NOT NULL, 
	detail JSON, 
	computed_at DATETIME NOT NULL
);

CREATE INDEX ix_drift_scores_deployment_window ON drift_scores (deployment_id, window_start, granularity);

CREATE TABLE model_performance (
	id INTEGER NOT NULL, 
	deployment_id VARCHAR(48) NOT NULL, 
	window_start DATETIME NOT NULL, 
	window_end DATETIME NOT NULL, 
	metric VARCHAR(64) NOT NULL, 
	value FLOAT, 
	n_labelled BIGINT NOT NULL, 
	computed_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_model_performance_deployment_window ON model_performance (deployment_id, window_start);
