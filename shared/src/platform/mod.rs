//! What every function stands on: settings ([`config`]), the clock, reading a request
//! ([`request`], [`edge`]), the route table, the response contract ([`envelope`],
//! [`error`]), secrets, logs and the event sources' batch answers.

pub mod batch;
pub mod clock;
pub mod config;
pub mod edge;
pub mod envelope;
pub mod error;
pub mod request;
pub mod routes;
pub mod secrets;
pub mod telemetry;
