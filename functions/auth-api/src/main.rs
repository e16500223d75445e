use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let app = shared::App::from_env().await?;
    let notifier = shared::access::notices::SnsNotifier::from_env().await?;
    let (app, notifier) = (&app, &notifier);
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(auth_api::handle(app, notifier, req).await)
    }))
    .await
}
