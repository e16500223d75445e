use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let app = shared::App::from_env().await?;
    let notifier = shared::access::notices::SnsNotifier::from_env().await?;
    let (app, notifier) = (&app, &notifier);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        rotation_check::handle(app, notifier, event.payload)
            .await
            .map_err(|err| {
                // A failed run is retried by EventBridge; the cause goes to the log only.
                tracing::error!(error = %err, "rotation check failed");
                Error::from("rotation check failed")
            })
    }))
    .await
}
