use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    lambda_http::run(service_fn(|req| async move {
        Ok::<_, std::convert::Infallible>(console::handle(&req))
    }))
    .await
}
