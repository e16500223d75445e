use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let app = shared::App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        customer_levels::handle(app, event.payload)
            .await
            .map_err(|err| {
                // A failed run is retried by EventBridge Scheduler; the cause goes to the log.
                tracing::error!(error = %err, "customer levels recompute failed");
                Error::from("customer levels recompute failed")
            })
    }))
    .await
}
