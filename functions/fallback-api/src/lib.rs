//! `fallback-api`: the HttpApi `$default` route. Answers every request no other route
//! matched: CORS preflights (`OPTIONS`, which no route names; `cors::preflight`, one read
//! of the table), and otherwise, in the envelope, 404 (10000) for an unknown path or 405
//! (10001) with `Allow` for a known path with another method. Needs no pepper.

use lambda_http::{Body, Request, Response};
use shared::platform::edge::Addressing;
use shared::platform::request::RequestInfo;
use shared::{ApiError, Store};
use shared::{access::cors, platform::envelope, platform::routes};

pub async fn handle(addressing: &Addressing, store: &Store, req: &Request) -> Response<Body> {
    let info = RequestInfo::from_request(req, addressing);
    if !info.edge_bypassed
        && let Some(answer) = cors::preflight(store, &info, req.headers()).await
    {
        return answer;
    }
    let err = match routes::resolve(&info.method, &info.path) {
        _ if info.edge_bypassed => ApiError::EdgeBypassed,
        Err(err) => err,
        // A route that exists but reached the fallback is missing from the deployment.
        Ok(_) => ApiError::RouteNotFound,
    };
    envelope::respond(&info, Err(err))
}
