//! `fallback-api`: the HttpApi `$default` route. Answers every request no other route
//! matched, in the envelope: 404 (10000) for an unknown path, 405 (10001) with `Allow` for a
//! known path with another method. Needs no database and no pepper.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::edge::Addressing;
use shared::envelope;
use shared::request::RequestInfo;
use shared::routes;

pub fn handle(addressing: &Addressing, req: &Request) -> Response<Body> {
    let info = RequestInfo::from_request(req, addressing);
    let err = match routes::resolve(&info.method, &info.path) {
        _ if info.edge_bypassed => ApiError::EdgeBypassed,
        Err(err) => err,
        // A route that exists but reached the fallback is missing from the deployment.
        Ok(_) => ApiError::RouteNotFound,
    };
    envelope::respond(&info, Err(err))
}
