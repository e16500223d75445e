//! Structured JSON logs for CloudWatch. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by
//! the function's logging config) or `RUST_LOG`, default `info`. Log lines carry ids
//! (request, organization, key, session), never credentials or bodies.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(&level))
        .with_target(false)
        .with_current_span(false)
        .try_init();
}

/// Our own code logs at `level`; the AWS SDK and HTTP stack never below `warn`, because at
/// debug/trace they print whole request and response bodies (stored items included).
pub fn filter(level: &str) -> EnvFilter {
    let level = match level.to_ascii_lowercase().as_str() {
        known @ ("trace" | "debug" | "info" | "warn" | "error") => known.to_owned(),
        _ => "info".to_owned(),
    };
    let quiet = [
        "aws_smithy_runtime",
        "aws_smithy_runtime_api",
        "aws_smithy_http_client",
        "aws_sdk_dynamodb",
        "aws_sdk_secretsmanager",
        "aws_config",
        "hyper",
        "hyper_util",
        "h2",
        "rustls",
        "lambda_runtime",
        "lambda_http",
    ];
    let directives: Vec<String> = std::iter::once(level)
        .chain(quiet.iter().map(|target| format!("{target}=warn")))
        .collect();
    EnvFilter::new(directives.join(","))
}
