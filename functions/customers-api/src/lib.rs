//! `customers-api`: the partnership's customers (its accounts) with their engagement over
//! the last 30 days, their tasks and their churn risk (`GET /v1/customers`, filters
//! `churn_risk` and `task_severity`; `GET /v1/customers/{id}`), scope `customers:read`.
//! Accounts carry what usage ingestion derived for them and their levels. A page reads its
//! own accounts: the unfiltered list through the account listing, a filtered one through
//! the customers index (kept valid day by day by the `customer-levels` recompute).

use chrono::NaiveDate;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::partner_data::calendar::{self, format_date};
use shared::partner_data::customers::{self, tasks};
use shared::partner_data::usage::utilisation_percent;
use shared::platform::envelope::Extent;
use shared::platform::request::{self, Cursor, Page, RequestInfo};
use shared::platform::routes::{self, Function, PathParams, RouteId};
use shared::storage::records::{AccountRecord, SessionRecord};
use shared::storage::{self, AccountPage, Level, LevelFilter, PageStart};
use shared::{ApiError, App, Reply, access::sessions, platform::envelope};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let info = RequestInfo::from_request(&req, &app.config.addressing);
    let result = match routes::route_for(Function::CustomersApi, &info) {
        Ok((route, params)) => dispatch(app, &info, &req, route, &params).await,
        Err(err) => Err(err),
    };
    envelope::respond(&info, result)
}

async fn dispatch(
    app: &App,
    info: &RequestInfo,
    req: &Request,
    route: RouteId,
    params: &PathParams,
) -> Result<Reply, ApiError> {
    let session = sessions::authorize(app, info, req, "customers:read").await?;
    request::expect_no_body(req)?;
    let today = calendar::stockholm_date(app.clock.now_ms());
    let customers = Customers {
        info,
        session: &session,
        today,
    };
    match route {
        RouteId::ListCustomers => {
            let query = request::query(
                req,
                &["limit", "offset", "cursor", "churn_risk", "task_severity"],
            )?;
            let page = Page::from_query(&query)?;
            let cursor = Cursor::from_query(&query, storage::is_listing_position)?;
            let level = |name: &'static str| {
                query
                    .get(name)
                    .map(|text| {
                        Level::parse(text).ok_or_else(|| {
                            ApiError::InvalidParameters(format!(
                                "{name} must be one of high, medium, low, none"
                            ))
                        })
                    })
                    .transpose()
            };
            let filter = LevelFilter {
                churn_risk: level("churn_risk")?,
                task_severity: level("task_severity")?,
            };
            customers.page(app, filter, page, cursor).await
        }
        RouteId::GetCustomer => {
            request::query(req, &[])?;
            let id = request::object_id(params.get("id").unwrap_or_default())?;
            let account = app
                .store
                .account(&session.partnership.id, id)
                .await
                .map_err(ApiError::internal)?
                .ok_or(ApiError::ObjectNotFound)?;
            Ok(Reply::ok(vec![customers.view(&account)]))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

struct Customers<'a> {
    info: &'a RequestInfo,
    session: &'a SessionRecord,
    today: NaiveDate,
}

impl Customers<'_> {
    /// A page of the customers (matching `filter`) in name order: following `_links.next`
    /// (its `cursor`) reads only that page's accounts — through the account listing, or the
    /// customers index for a filtered list once the day's recompute completed it (until then
    /// a filtered list reads every account).
    async fn page(
        &self,
        app: &App,
        filter: LevelFilter,
        page: Page,
        cursor: Option<String>,
    ) -> Result<Reply, ApiError> {
        let partnership_id = &self.session.partnership.id;
        let start = PageStart::of(cursor.as_deref(), page.offset);
        let listing = if filter == LevelFilter::default() {
            app.store
                .account_page(partnership_id, None, start, page.limit)
                .await
        } else {
            match app
                .store
                .customer_page(
                    partnership_id,
                    filter,
                    self.today,
                    start.clone(),
                    page.limit,
                )
                .await
            {
                Ok(Some(listing)) => Ok(listing),
                Ok(None) => self.read_all(app, filter, &start, page.limit).await,
                Err(err) => Err(err),
            }
        }
        .map_err(ApiError::internal)?;
        let extent = Extent::continued(listing.total, cursor.as_deref(), listing.next.as_deref());
        let items = listing.accounts.iter().map(|a| self.view(a)).collect();
        let filters: Vec<(&str, String)> = [
            ("churn_risk", filter.churn_risk),
            ("task_severity", filter.task_severity),
        ]
        .into_iter()
        .filter_map(|(name, level)| Some((name, level?.as_str().to_owned())))
        .collect();
        Ok(Reply::page(
            self.info,
            "/v1/customers",
            &filters,
            items,
            extent,
            page,
        ))
    }

    /// A filtered page computed from every account of the partnership (the index is not
    /// complete for today yet), paged the same way as the index.
    async fn read_all(
        &self,
        app: &App,
        filter: LevelFilter,
        start: &PageStart,
        limit: usize,
    ) -> Result<AccountPage, storage::StoreError> {
        let (kind, now) = (self.session.partnership.kind, app.clock.now_ms());
        let mut matching: Vec<(String, AccountRecord)> = app
            .store
            .accounts(&self.session.partnership.id)
            .await?
            .into_iter()
            .filter(|a| filter.matches(&customers::levels(kind, a, self.today, now)))
            .map(|a| (storage::listing_position(&a), a))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        let total = u64::try_from(matching.len()).unwrap_or(u64::MAX);
        let (accounts, next) = start.page_of(matching, limit);
        Ok(AccountPage {
            accounts,
            next,
            total,
        })
    }

    fn view(&self, account: &AccountRecord) -> Value {
        let engagement = account.engagement.as_ref();
        let window = tasks::window(engagement, self.today);
        let totals = &window.totals;
        let latest = window.latest.map(|(_, day)| day);
        let last_activity: serde_json::Map<String, Value> = engagement
            .map(|e| &e.last_active)
            .into_iter()
            .flatten()
            .map(|(product, date)| (product.clone(), json!(format_date(*date))))
            .collect();
        let licences: Vec<Value> = tasks::licences_today(account, self.today)
            .into_iter()
            .map(|(sku, licensed)| {
                let month = tasks::month_use(account, &sku, self.today);
                let peak = month.peak_utilisation;
                json!({
                    "sku": sku,
                    "licensed_quantity": licensed,
                    "peak_used_this_month": month.peak_used,
                    "peak_utilisation_percent": peak.and_then(|(_, u, l)| utilisation_percent(u, l)),
                    "peak_utilisation_date": peak.map(|(d, _, _)| format_date(d)),
                })
            })
            .collect();
        let tasks = tasks::tasks(self.session.partnership.kind, account, self.today);
        let churn: Vec<&tasks::Task> = tasks
            .iter()
            .filter(|t| t.category == tasks::Category::ChurnRisk)
            .collect();
        let indicators: Vec<Value> = churn
            .iter()
            .map(|t| json!({ "code": t.code, "severity": t.severity, "detail": t.detail }))
            .collect();
        let href = self
            .info
            .link(&format!("/v1/customers/{}", account.account_id));
        json!({
            "id": account.account_id,
            "name": account.name,
            "state": account.state,
            "country": account.country,
            "engagement": {
                "start_date": format_date(window.start),
                "end_date": format_date(window.end),
                "logins": totals.logins,
                "scans": totals.scans,
                "failed_scans": totals.failed_scans,
                "pat_assessments": totals.pat_assessments,
                "reports_created": totals.reports_created,
                "risk_score": latest.map(|d| d.risk_score),
                "threat_score": latest.map(|d| d.threat_score),
                "scores_date": window.latest.map(|(date, _)| format_date(date)),
                "inactive_appliances": latest.map(|d| d.inactive_appliances),
                "last_activity": last_activity,
            },
            "licences": licences,
            "task_severity": tasks::level(&tasks),
            "tasks": tasks,
            "churn_risk": {
                "level": tasks::level(churn),
                "indicators": indicators,
            },
            "_links": {
                "self": { "href": href },
                "account": { "href": self.info.link(&format!("/v1/accounts/{}", account.account_id)) },
            },
        })
    }
}
