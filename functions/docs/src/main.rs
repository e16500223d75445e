use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    // Read once; a bad setting fails the Init phase. Leaked: it lives as long as the process.
    let addressing: &'static _ =
        Box::leak(Box::new(shared::platform::edge::Addressing::from_env()?));
    lambda_http::run(service_fn(|req| async move {
        Ok::<_, std::convert::Infallible>(docs::handle(addressing, &req))
    }))
    .await
}
