use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let app = shared::App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(customers_api::handle(app, req).await)
    }))
    .await
}
