//! `accounts-api`: provisioning of end customers — accounts (`/v1/accounts`), their
//! subscriptions (`/v1/accounts/{id}/subscriptions`, `/v1/subscriptions/{id}`) and the
//! partnership's SKUs (`/v1/skus`). Scopes `accounts:read` / `accounts:write`; everything is
//! scoped to the session's partnership, so another partnership's ids are 404.

mod input;

use chrono::NaiveDate;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::partner_data::calendar::{self, format_date};
use shared::partner_data::catalogue;
use shared::partner_data::customers;
use shared::partner_data::provisioning;
use shared::partner_data::usage;
use shared::platform::envelope::Extent;
use shared::platform::request::{self, Cursor, Page, RequestInfo};
use shared::platform::routes::{self, Function, PathParams, RouteId};
use shared::storage::records::{
    AccountRecord, AccountState, SessionRecord, StateChange, SubscriptionRecord,
};
use shared::storage::{self, PageStart, RefChange, WriteOutcome};
use shared::{ApiError, App, Reply, access::sessions, platform::envelope};

use input::{AccountBody, AccountPatch, SubscriptionBody, SubscriptionPatch};

const READ: &str = "accounts:read";
const WRITE: &str = "accounts:write";

/// Attempts of a read-modify-write before answering 503 (each lost race re-reads).
const WRITE_ATTEMPTS: usize = 5;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let info = RequestInfo::from_request(&req, &app.config.addressing);
    let result = match routes::route_for(Function::AccountsApi, &info) {
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
    let writes = matches!(
        route,
        RouteId::CreateAccount
            | RouteId::UpdateAccount
            | RouteId::ReplaceAccount
            | RouteId::DeleteAccount
            | RouteId::CreateSubscription
            | RouteId::UpdateSubscription
            | RouteId::ReplaceSubscription
            | RouteId::DeleteSubscription
    );
    let session = sessions::authorize(app, info, req, if writes { WRITE } else { READ }).await?;
    let accounts = Accounts {
        app,
        info,
        session: &session,
        today: calendar::stockholm_date(app.clock.now_ms()),
    };
    let id = || request::object_id(params.get("id").unwrap_or_default());
    match route {
        RouteId::GetAccount
        | RouteId::GetSubscription
        | RouteId::DeleteAccount
        | RouteId::DeleteSubscription => {
            request::expect_no_body(req)?;
            request::query(req, &[])?;
        }
        RouteId::CreateAccount
        | RouteId::UpdateAccount
        | RouteId::ReplaceAccount
        | RouteId::CreateSubscription
        | RouteId::UpdateSubscription
        | RouteId::ReplaceSubscription => {
            request::query(req, &[])?;
        }
        _ => request::expect_no_body(req)?,
    }
    match route {
        RouteId::ListSkus => accounts.skus(req),
        RouteId::ListAccounts => accounts.list(req).await,
        RouteId::CreateAccount => accounts.create(request::json_body(req)?).await,
        RouteId::GetAccount => accounts.get(id()?).await,
        RouteId::UpdateAccount => {
            let patch: AccountPatch = request::json_body(req)?;
            accounts
                .change(id()?, |a, today| patch.apply(a, today))
                .await
        }
        RouteId::ReplaceAccount => {
            let body: AccountBody = request::json_body(req)?;
            accounts
                .change(id()?, |a, today| body.replace(a, today))
                .await
        }
        RouteId::DeleteAccount => accounts.delete(id()?).await,
        RouteId::ListSubscriptions => accounts.subscriptions(req, id()?).await,
        RouteId::CreateSubscription => {
            accounts
                .create_subscription(id()?, request::json_body(req)?)
                .await
        }
        RouteId::GetSubscription => accounts.get_subscription(id()?).await,
        RouteId::UpdateSubscription => {
            let patch: SubscriptionPatch = request::json_body(req)?;
            let partnership = &session.partnership;
            accounts
                .change_subscription(id()?, |sub| patch.apply(sub, partnership))
                .await
        }
        RouteId::ReplaceSubscription => {
            let body: SubscriptionBody = request::json_body(req)?;
            let partnership = &session.partnership;
            accounts
                .change_subscription(id()?, |sub| body.replace(sub, partnership))
                .await
        }
        RouteId::DeleteSubscription => accounts.delete_subscription(id()?).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

/// One request's view of the session's partnership.
struct Accounts<'a> {
    app: &'a App,
    info: &'a RequestInfo,
    session: &'a SessionRecord,
    today: NaiveDate,
}

fn archived(account: &AccountRecord) -> Result<(), ApiError> {
    if account.state == AccountState::Archived {
        Err(ApiError::Conflict(
            "the account is archived, and an archived account is read-only".into(),
        ))
    } else {
        Ok(())
    }
}

impl Accounts<'_> {
    fn partnership_id(&self) -> &str {
        &self.session.partnership.id
    }

    fn account_view(&self, account: &AccountRecord) -> Value {
        let href = self
            .info
            .link(&format!("/v1/accounts/{}", account.account_id));
        let mut view = provisioning::account_fields(account);
        view.insert(
            "_links".into(),
            json!({
                "self": { "href": href },
                "subscriptions": { "href": format!("{href}/subscriptions") },
            }),
        );
        Value::Object(view)
    }

    fn subscription_view(&self, account_id: &str, sub: &SubscriptionRecord) -> Value {
        let mut view = provisioning::subscription_fields(account_id, sub);
        view.insert("active".into(), json!(sub.active_on(self.today)));
        view.insert(
            "_links".into(),
            json!({
                "self": { "href": self.info.link(&format!("/v1/subscriptions/{}", sub.subscription_id)) },
                "account": { "href": self.info.link(&format!("/v1/accounts/{account_id}")) },
            }),
        );
        Value::Object(view)
    }

    fn skus(&self, req: &Request) -> Result<Reply, ApiError> {
        let params = request::query(req, &["limit", "offset"])?;
        let page = Page::from_query(&params)?;
        let skus: Vec<Value> = catalogue::PRODUCTS
            .iter()
            .filter(|p| self.session.partnership.sells(p.code))
            .map(|p| json!({ "code": p.code, "name": p.name, "unit": p.unit }))
            .collect();
        Ok(Reply::page_of(
            self.info,
            "/v1/skus",
            &[],
            &skus,
            page,
            Value::clone,
        ))
    }

    async fn load(&self, account_id: &str) -> Result<AccountRecord, ApiError> {
        self.app
            .store
            .account(self.partnership_id(), account_id)
            .await
            .map_err(ApiError::internal)?
            .ok_or(ApiError::ObjectNotFound)
    }

    /// One page in name order: following `_links.next` (its `cursor`) reads only that page;
    /// a bare `offset` also reads the listing entries before it.
    async fn list(&self, req: &Request) -> Result<Reply, ApiError> {
        let params = request::query(req, &["limit", "offset", "state", "cursor"])?;
        let page = Page::from_query(&params)?;
        let cursor = Cursor::from_query(&params, storage::is_listing_position)?;
        let state = params
            .get("state")
            .map(|text| input::parse_state(text))
            .transpose()?;
        let start = PageStart::of(cursor.as_deref(), page.offset);
        let listing = self
            .app
            .store
            .account_page(self.partnership_id(), state, start, page.limit)
            .await
            .map_err(ApiError::internal)?;
        let filters: Vec<(&str, String)> = state
            .map(|s| ("state", s.as_str().to_owned()))
            .into_iter()
            .collect();
        let extent = Extent::continued(listing.total, cursor.as_deref(), listing.next.as_deref());
        let items = listing
            .accounts
            .iter()
            .map(|a| self.account_view(a))
            .collect();
        Ok(Reply::page(
            self.info,
            "/v1/accounts",
            &filters,
            items,
            extent,
            page,
        ))
    }

    async fn create(&self, body: AccountBody) -> Result<Reply, ApiError> {
        let now = self.app.clock.now_ms();
        let fields = body.validate_new(self.today)?;
        let account = AccountRecord {
            account_id: request::new_id(),
            org_id: self.session.org_id.clone(),
            partnership_id: self.partnership_id().to_owned(),
            created_at_ms: now,
            name: fields.name,
            state: fields.state,
            trial_ends_at: fields.trial_ends_at,
            country: fields.country,
            updated_at_ms: now,
            revision: 1,
            state_history: vec![StateChange {
                state: fields.state,
                since: fields.state_since,
            }],
            subscriptions: Default::default(),
            derived_seq: 0,
            engagement: None,
            levels: None,
            usage_months: Default::default(),
            month_lists: Default::default(),
        };
        let account = customers::with_indexed_fields(self.session.partnership.kind, account, now);
        self.app
            .store
            .create_account(&account)
            .await
            .map_err(ApiError::internal)?;
        Ok(Reply::created(vec![self.account_view(&account)]))
    }

    async fn get(&self, account_id: &str) -> Result<Reply, ApiError> {
        let account = self.load(account_id).await?;
        Ok(Reply::ok(vec![self.account_view(&account)]))
    }

    /// Read, change, write under the revision read; a lost race re-reads and re-applies.
    /// A change of state or name reaches the MSSP report before the answer: the periods it
    /// touches are recomputed. A change that reaches closed periods (a back-dated state
    /// change, a subscription change in a closed month) is counted there as late, and a
    /// closed month keeps the subscriptions it had, in the same write as the change.
    async fn modify<T>(
        &self,
        account_id: &str,
        mut change: impl FnMut(&mut AccountRecord) -> Result<(T, RefChange), ApiError>,
    ) -> Result<(AccountRecord, T), ApiError> {
        let kind = self.session.partnership.kind;
        for _ in 0..WRITE_ATTEMPTS {
            let before = self.load(account_id).await?;
            archived(&before)?;
            let mut account = before.clone();
            let read_revision = account.revision;
            let (outcome, refs) = change(&mut account)?;
            account.revision = read_revision + 1;
            let now = self.app.clock.now_ms();
            account.updated_at_ms = now;
            // The day of this attempt: one refused after midnight is retried with the new day.
            let account = customers::with_indexed_fields(kind, account, now);
            let effect = usage::account_change_effect(
                kind,
                &before,
                &account,
                self.today,
                self.app.config.report_grace_days,
            );
            match self
                .app
                .store
                .save_account(&before, &account, refs, &effect.closed)
                .await
                .map_err(ApiError::internal)?
            {
                WriteOutcome::Written => {
                    if !effect.recompute.is_empty() {
                        usage::recompute(
                            self.app,
                            self.partnership_id(),
                            account_id,
                            &effect.recompute,
                            self.today,
                        )
                        .await
                        .map_err(ApiError::internal)?;
                    }
                    return Ok((account, outcome));
                }
                WriteOutcome::Stale => continue,
            }
        }
        Err(ApiError::ServiceBusy {
            retry_after_ms: 1000,
        })
    }

    async fn change(
        &self,
        account_id: &str,
        mut apply: impl FnMut(&mut AccountRecord, NaiveDate) -> Result<(), ApiError>,
    ) -> Result<Reply, ApiError> {
        let today = self.today;
        let (account, ()) = self
            .modify(account_id, |account| {
                apply(account, today)?;
                Ok(((), RefChange::None))
            })
            .await?;
        Ok(Reply::ok(vec![self.account_view(&account)]))
    }

    async fn delete(&self, account_id: &str) -> Result<Reply, ApiError> {
        for _ in 0..WRITE_ATTEMPTS {
            let account = self.load(account_id).await?;
            archived(&account)?;
            if let Some(active) = account
                .subscriptions
                .values()
                .find(|s| s.active_on(self.today))
            {
                return Err(ApiError::Conflict(format!(
                    "the account has a subscription active today ({}, {} to {}); delete or end it first",
                    active.subscription_id,
                    format_date(active.start_date),
                    format_date(active.end_date)
                )));
            }
            let closed = usage::account_deletion_effect(
                self.session.partnership.kind,
                &account,
                self.today,
                self.app.config.report_grace_days,
            );
            match self
                .app
                .store
                .delete_account(&account, &closed)
                .await
                .map_err(ApiError::internal)?
            {
                WriteOutcome::Written => {
                    return Ok(
                        Reply::ok(Vec::new()).link("accounts", self.info.link("/v1/accounts"))
                    );
                }
                WriteOutcome::Stale => continue,
            }
        }
        Err(ApiError::ServiceBusy {
            retry_after_ms: 1000,
        })
    }

    async fn subscriptions(&self, req: &Request, account_id: &str) -> Result<Reply, ApiError> {
        let params = request::query(req, &["limit", "offset"])?;
        let page = Page::from_query(&params)?;
        let account = self.load(account_id).await?;
        let mut subs: Vec<&SubscriptionRecord> = account.subscriptions.values().collect();
        subs.sort_by(|a, b| {
            (a.start_date, &a.subscription_id).cmp(&(b.start_date, &b.subscription_id))
        });
        let path = format!("/v1/accounts/{account_id}/subscriptions");
        Ok(Reply::page_of(self.info, &path, &[], &subs, page, |s| {
            self.subscription_view(account_id, s)
        }))
    }

    async fn create_subscription(
        &self,
        account_id: &str,
        body: SubscriptionBody,
    ) -> Result<Reply, ApiError> {
        let now = self.app.clock.now_ms();
        let fields = body.validate(&self.session.partnership)?;
        let subscription_id = request::new_id();
        let (account, ()) = self
            .modify(account_id, |account| {
                if account.subscriptions.len() >= AccountRecord::MAX_SUBSCRIPTIONS {
                    return Err(ApiError::Conflict(format!(
                        "an account holds at most {} subscriptions; delete an old one first",
                        AccountRecord::MAX_SUBSCRIPTIONS
                    )));
                }
                let record = fields.clone().into_record(&subscription_id, now, now);
                account
                    .subscriptions
                    .insert(subscription_id.clone(), record);
                Ok(((), RefChange::AddSubscription(subscription_id.clone())))
            })
            .await?;
        let sub = account
            .subscriptions
            .get(&subscription_id)
            .ok_or_else(|| ApiError::internal("a created subscription is missing"))?;
        Ok(Reply::created(vec![
            self.subscription_view(account_id, sub),
        ]))
    }

    /// The account holding subscription `subscription_id` of this partnership.
    async fn holder(&self, subscription_id: &str) -> Result<String, ApiError> {
        self.app
            .store
            .subscription_ref(self.partnership_id(), subscription_id)
            .await
            .map_err(ApiError::internal)?
            .map(|pointer| pointer.account_id)
            .ok_or(ApiError::ObjectNotFound)
    }

    async fn get_subscription(&self, subscription_id: &str) -> Result<Reply, ApiError> {
        let account_id = self.holder(subscription_id).await?;
        let account = self.load(&account_id).await?;
        let sub = account
            .subscriptions
            .get(subscription_id)
            .ok_or(ApiError::ObjectNotFound)?;
        Ok(Reply::ok(vec![self.subscription_view(&account_id, sub)]))
    }

    async fn change_subscription(
        &self,
        subscription_id: &str,
        mut apply: impl FnMut(&mut SubscriptionRecord) -> Result<(), ApiError>,
    ) -> Result<Reply, ApiError> {
        let account_id = self.holder(subscription_id).await?;
        let now = self.app.clock.now_ms();
        let (account, ()) = self
            .modify(&account_id, |account| {
                let sub = account
                    .subscriptions
                    .get_mut(subscription_id)
                    .ok_or(ApiError::ObjectNotFound)?;
                apply(sub)?;
                sub.updated_at_ms = now;
                Ok(((), RefChange::None))
            })
            .await?;
        let sub = account
            .subscriptions
            .get(subscription_id)
            .ok_or(ApiError::ObjectNotFound)?;
        Ok(Reply::ok(vec![self.subscription_view(&account_id, sub)]))
    }

    async fn delete_subscription(&self, subscription_id: &str) -> Result<Reply, ApiError> {
        let account_id = self.holder(subscription_id).await?;
        self.modify(&account_id, |account| {
            account
                .subscriptions
                .remove(subscription_id)
                .ok_or(ApiError::ObjectNotFound)?;
            Ok((
                (),
                RefChange::RemoveSubscription(subscription_id.to_owned()),
            ))
        })
        .await?;
        let path = format!("/v1/accounts/{account_id}/subscriptions");
        Ok(Reply::ok(Vec::new()).link("subscriptions", self.info.link(&path)))
    }
}
