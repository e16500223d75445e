//! `reports-api`: the billing reports. MSSP partnerships (`/v1/mssp/…`, scope
//! `mssp-report:read`) are billed per period (26th to 25th) on the peak daily usage of
//! their eligible companies against their minimum commitments; reseller partnerships
//! (`/v1/reseller/…`, scope `reseller-report:read`) see calendar months of licences, ACV
//! and licence use. Reports read only the items usage ingestion and provisioning keep up
//! to date, a page at a time (a reseller month that is closed, or not yet in its lists:
//! the accounts' Query beside the month's), plus the session UpdateItem.

mod mssp;
mod reseller;

use chrono::NaiveDate;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::partner_data::calendar::{self, Period, PeriodKind, format_date};
use shared::platform::clock::iso8601;
use shared::platform::request::{self, Cursor, Page, RequestInfo};
use shared::platform::routes::{self, Function, PathParams, RouteId};
use shared::storage;
use shared::storage::records::{PeriodLedger, SessionRecord};
use shared::{ApiError, App, Reply, access::sessions, platform::envelope};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let info = RequestInfo::from_request(&req, &app.config.addressing);
    let result = match routes::route_for(Function::ReportsApi, &info) {
        Ok((route, params)) => dispatch(app, &info, &req, route, &params).await,
        Err(err) => Err(err),
    };
    envelope::respond(&info, result)
}

/// What a report handler works with.
pub struct Report<'a> {
    pub app: &'a App,
    pub info: &'a RequestInfo,
    pub session: SessionRecord,
    pub today: NaiveDate,
    pub page: Page,
}

impl Report<'_> {
    pub fn partnership_id(&self) -> &str {
        &self.session.partnership.id
    }

    /// One page of a complete, ordered collection.
    pub fn page<T>(&self, path: &str, all: &[T], view: impl Fn(&T) -> Value) -> Reply {
        Reply::page_of(self.info, path, &[], all, self.page, view)
    }

    pub fn account_link(&self, account_id: &str) -> Value {
        json!({ "href": self.info.link(&format!("/v1/accounts/{account_id}")) })
    }

    /// A period as every answer about it shows it: its days, where it stands in its life
    /// (`open` → `closing` → `closed`, when it closes) and what reached it late.
    pub fn period_view(&self, period: Period, ledger: &PeriodLedger) -> Value {
        let grace = self.app.config.report_grace_days;
        json!({
            "id": period.id(),
            "start_date": format_date(period.start()),
            "end_date": format_date(period.end()),
            "status": period.status(self.today, grace),
            "closes_at": iso8601(period.closes_at_ms(grace)),
            "late_records": ledger.late_records,
        })
    }
}

async fn dispatch(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    route: RouteId,
    params: &PathParams,
) -> Result<Reply, ApiError> {
    let kind = match route {
        RouteId::ListMsspPeriods | RouteId::ListMsspCompanies | RouteId::GetMsspUsage => {
            PeriodKind::Mssp
        }
        _ => PeriodKind::Reseller,
    };
    let scope = match kind {
        PeriodKind::Mssp => "mssp-report:read",
        PeriodKind::Reseller => "reseller-report:read",
    };
    let session = sessions::authorize(app, info, req, scope).await?;
    request::expect_no_body(req)?;
    let allowed: &[&str] = match route {
        RouteId::ListMsspCompanies => &["limit", "offset", "cursor", "peak_product"],
        RouteId::ListResellerCompanies | RouteId::GetResellerUsage => {
            &["limit", "offset", "cursor"]
        }
        _ => &["limit", "offset"],
    };
    let params_in_query = request::query(req, allowed)?;
    let report = Report {
        app,
        info,
        session,
        today: calendar::stockholm_date(app.clock.now_ms()),
        page: Page::from_query(&params_in_query)?,
    };
    let period = || offered_period(kind, params.get("id").unwrap_or_default(), report.today);
    match route {
        RouteId::ListMsspPeriods | RouteId::ListResellerPeriods => periods(&report, kind).await,
        RouteId::ListMsspCompanies => match params_in_query.get("peak_product") {
            None => {
                let cursor = Cursor::from_query(&params_in_query, storage::is_listing_position)?;
                mssp::companies(&report, period()?, cursor).await
            }
            Some(product) => {
                let cursor = Cursor::from_query(&params_in_query, storage::is_units_position)?;
                mssp::peak_date_companies(&report, period()?, product, cursor).await
            }
        },
        RouteId::GetMsspUsage => mssp::usage(&report, period()?).await,
        RouteId::ListResellerCompanies | RouteId::GetResellerUsage => {
            let cursor = Cursor::from_query(&params_in_query, storage::is_listing_position)?;
            if route == RouteId::ListResellerCompanies {
                reseller::companies(&report, period()?, cursor).await
            } else {
                reseller::usage(&report, period()?, cursor).await
            }
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

fn base_path(kind: PeriodKind) -> &'static str {
    match kind {
        PeriodKind::Mssp => "/v1/mssp/periods",
        PeriodKind::Reseller => "/v1/reseller/periods",
    }
}

/// The period `id` names, if the reports offer it today (else 404).
fn offered_period(kind: PeriodKind, id: &str, today: NaiveDate) -> Result<Period, ApiError> {
    Period::parse(kind, id)
        .filter(|p| p.is_offered(today))
        .ok_or(ApiError::ObjectNotFound)
}

/// The periods on offer, newest first; the page's ledgers are one BatchGetItem.
async fn periods(report: &Report<'_>, kind: PeriodKind) -> Result<Reply, ApiError> {
    let base = base_path(kind);
    let history = Period::history(kind, report.today);
    let on_page: Vec<Period> = history
        .iter()
        .skip(report.page.offset)
        .take(report.page.limit)
        .copied()
        .collect();
    let ledgers = if on_page.is_empty() {
        Default::default()
    } else {
        report
            .app
            .store
            .period_ledgers(report.partnership_id(), &on_page)
            .await
            .map_err(ApiError::internal)?
    };
    let no_ledger = PeriodLedger::default();
    Ok(report.page(base, &history, |period| {
        let href = |tail: &str| report.info.link(&format!("{base}/{}/{tail}", period.id()));
        let mut view = report.period_view(*period, ledgers.get(period).unwrap_or(&no_ledger));
        view["_links"] = json!({
            "companies": { "href": href("companies") },
            "usage": { "href": href("usage") },
        });
        view
    }))
}
