use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    // Read once; a bad setting fails the Init phase. Leaked: they live as long as the process.
    let addressing: &'static _ =
        Box::leak(Box::new(shared::platform::edge::Addressing::from_env()?));
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let sdk_config = aws_config::load_from_env().await;
    let store: &'static _ = Box::leak(Box::new(shared::Store::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        &table,
    )));
    lambda_http::run(service_fn(|req| async move {
        Ok::<_, std::convert::Infallible>(fallback_api::handle(addressing, store, &req).await)
    }))
    .await
}
