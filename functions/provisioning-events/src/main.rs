use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::partner_data::provisioning::events::StreamEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let app = shared::App::from_env().await?;
    let bus_name = std::env::var("EVENT_BUS_NAME")
        .map_err(|_| "environment variable EVENT_BUS_NAME is required")?;
    let sdk_config = aws_config::load_from_env().await;
    let publisher = provisioning_events::EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&sdk_config),
        bus_name,
    );
    let (app, publisher) = (&app, &publisher);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<_, Error>(provisioning_events::handle(app, publisher, event.payload).await)
        },
    ))
    .await
}
