use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let app = shared::App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<usage_ingest::SqsEvent>| async move {
            Ok::<_, Error>(usage_ingest::handle(app, event.payload).await)
        },
    ))
    .await
}
