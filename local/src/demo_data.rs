//! Realistic partner data for the demo partner (`make run`) and the benchmark: accounts in
//! every state, yearly subscriptions (some about to end, some renewed), and daily usage
//! and activity records fed through usage ingestion exactly as the platform's queue would,
//! with some accounts going quiet or outgrowing their licences so that every churn rule
//! has an example. Deterministic: the same seed gives the same data.

use chrono::{Datelike, NaiveDate};
use futures::StreamExt;
use serde_json::{Value, json};
use shared::partner_data::calendar::{self, days_between};
use shared::partner_data::catalogue::PRODUCTS;
use shared::partner_data::usage::{self, Message};
use shared::platform::clock::iso8601;
use shared::storage::records::{
    AccountRecord, AccountState, Money, Partnership, PartnershipType, StateChange,
    SubscriptionRecord,
};
use shared::{ApiError, App};

/// A small, fast, deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// True with probability `percent` %.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let len = u64::try_from(items.len()).ok().filter(|n| *n > 0)?;
        items.get(usize::try_from(self.next() % len).ok()?)
    }
}

const NAMES: &[&str] = &[
    "Aurora Logistics",
    "Birka Finans",
    "Carlsson Bygg",
    "Dala Energi",
    "Ekdahl Advokatbyrå",
    "Fjord Shipping",
    "Gota Retail",
    "Hansa Foods",
    "Isberg Medical",
    "Jarl Consulting",
    "Kvarn Media",
    "Lumen Labs",
    "Malm Industri",
    "Norrsken Hotels",
    "Oresund Freight",
    "Polar Apps",
    "Quist Insurance",
    "Runsten Pharma",
    "Saga Schools",
    "Tornet Fastigheter",
    "Uppland Vatten",
    "Vega Telecom",
    "Wik Automotive",
    "Ymer Games",
    "Zenit Bank",
    "Alva Design",
    "Berg Mining",
    "Cirrus Cloud",
    "Delta Dental",
    "Elva Elektronik",
];
const SUFFIXES: &[&str] = &["AB", "Oy", "AS", "A/S", "GmbH", "Ltd", "BV"];
const COUNTRIES: &[&str] = &["SE", "SE", "SE", "NO", "DK", "FI", "DE", "GB", "NL"];
/// List price per unit and year, in öre.
fn unit_price_minor(product: &str) -> i64 {
    match product {
        "SNS" => 120_000,
        "DA" => 40_000,
        "WAS" => 300_000,
        "CS" => 60_000,
        _ => 15_000,
    }
}

/// Typical units of a product for one customer.
fn typical_units(product: &str, rng: &mut Rng) -> u64 {
    match product {
        "SNS" => rng.between(8, 60),
        "DA" => rng.between(20, 400),
        "WAS" => rng.between(2, 30),
        "CS" => rng.between(10, 150),
        _ => rng.between(20, 600),
    }
}

/// How one generated account behaves.
struct Profile {
    account: AccountRecord,
    /// Products used, with their typical daily units.
    products: Vec<(&'static str, u64)>,
    /// Growth (percent per year) of the units.
    growth_percent: i64,
    /// The day after which this account stops using this product (going quiet).
    quiet_from: Option<(&'static str, NaiveDate)>,
    first_day: NaiveDate,
    appliance_trouble: bool,
    /// Some scans failing lately.
    scan_trouble: bool,
}

/// What to generate for one partnership.
#[derive(Debug, Clone, Copy)]
pub struct Population {
    pub accounts: usize,
    /// The first day of platform records (the last is today).
    pub from: NaiveDate,
    /// Every account uses every product the partnership sells (else two or more).
    pub every_product: bool,
    pub seed: u64,
}

/// Generates the accounts of `population`.
fn profiles(
    org_id: &str,
    partnership: &Partnership,
    population: Population,
    today: NaiveDate,
    now_ms: i64,
) -> Vec<Profile> {
    let Population {
        accounts: count,
        from,
        every_product,
        seed,
    } = population;
    let mut rng = Rng(seed);
    let sold: Vec<&'static str> = PRODUCTS
        .iter()
        .map(|p| p.code)
        .filter(|code| partnership.sells(code))
        .collect();
    (0..count)
        .map(|index| {
            let base = NAMES[index % NAMES.len()];
            let suffix = rng.pick(SUFFIXES).copied().unwrap_or("AB");
            let name = if index < NAMES.len() {
                format!("{base} {suffix}")
            } else {
                format!("{base} {suffix} {}", index / NAMES.len() + 1)
            };
            let state = match index % 20 {
                3 | 11 => AccountState::Trial,
                7 => AccountState::Demo,
                15 => AccountState::Internal,
                19 => AccountState::Archived,
                _ => AccountState::Paying,
            };
            let first_day = if state == AccountState::Trial {
                calendar::sub_days(today, rng.between(2, 12))
            } else {
                from
            };
            let used = if every_product {
                sold.len()
            } else {
                usize::try_from(rng.between(2, sold.len().max(2) as u64)).unwrap_or(2)
            };
            let mut products: Vec<(&'static str, u64)> = Vec::new();
            for product in sold
                .iter()
                .cycle()
                .skip(index % sold.len().max(1))
                .take(used.min(sold.len()))
            {
                products.push((product, typical_units(product, &mut rng)));
            }
            let mut subscriptions = std::collections::BTreeMap::new();
            if partnership.kind == PartnershipType::Reseller && state != AccountState::Trial {
                for (product, units) in &products {
                    // Yearly terms; the current one started up to a year ago.
                    let start = calendar::sub_days(today, rng.between(20, 360));
                    let previous_start = calendar::sub_days(start, 365);
                    let quantity = (*units * rng.between(120, 180) / 100).max(1);
                    let renewed_early = rng.chance(30);
                    for (term_start, term_quantity) in
                        [(previous_start, quantity * 9 / 10), (start, quantity)]
                    {
                        let id = shared::platform::request::new_id();
                        let mut end = calendar::sub_days(calendar::add_months(term_start, 12), 1);
                        if term_start == start && renewed_early {
                            end = calendar::sub_days(calendar::add_months(term_start, 24), 1);
                        }
                        let currency = if index % 6 == 5 { "EUR" } else { "SEK" };
                        let amount =
                            unit_price_minor(product) * i64::try_from(term_quantity).unwrap_or(0);
                        let amount = if currency == "EUR" {
                            amount / 11
                        } else {
                            amount
                        };
                        subscriptions.insert(
                            id.clone(),
                            SubscriptionRecord {
                                subscription_id: id,
                                sku: (*product).to_owned(),
                                quantity: term_quantity.max(1),
                                start_date: term_start,
                                end_date: end,
                                evaluation: false,
                                order_number: Some(format!(
                                    "PO-{}-{:04}",
                                    term_start.year(),
                                    rng.between(1, 9999)
                                )),
                                acv: Some(Money {
                                    amount_minor: amount,
                                    currency: currency.into(),
                                }),
                                created_at_ms: now_ms,
                                updated_at_ms: now_ms,
                            },
                        );
                    }
                }
            }
            let quiet_from =
                rng.pick(&products)
                    .copied()
                    .filter(|_| index % 7 == 4)
                    .map(|(product, _)| {
                        (
                            product,
                            calendar::sub_days(today, [10, 20, 45][(index / 7) % 3]),
                        )
                    });
            // Paying (or trial, demo, internal) from its first day; archived customers paid
            // until their usage stopped.
            let archived_from = calendar::add_days(calendar::sub_days(today, 60), 1);
            let state_history = if state == AccountState::Archived {
                vec![
                    StateChange {
                        state: AccountState::Paying,
                        since: first_day,
                    },
                    StateChange {
                        state,
                        since: archived_from,
                    },
                ]
            } else {
                vec![StateChange {
                    state,
                    since: first_day,
                }]
            };
            let account = AccountRecord {
                account_id: shared::platform::request::new_id(),
                org_id: org_id.to_owned(),
                partnership_id: partnership.id.clone(),
                created_at_ms: now_ms,
                name,
                state,
                trial_ends_at: (state == AccountState::Trial)
                    .then(|| calendar::add_days(first_day, 14)),
                country: rng.pick(COUNTRIES).copied().unwrap_or("SE").to_owned(),
                updated_at_ms: now_ms,
                revision: 1,
                state_history,
                subscriptions,
                derived_seq: 0,
                engagement: None,
                levels: None,
                usage_months: Default::default(),
                month_lists: Default::default(),
            };
            Profile {
                account,
                products,
                growth_percent: i64::try_from(rng.between(0, 20)).unwrap_or(0) - 5,
                quiet_from,
                first_day,
                appliance_trouble: index % 9 == 2,
                scan_trouble: index % 8 == 5,
            }
        })
        .collect()
}

/// The platform's records of one account, one per product and day, plus daily activity.
fn records(profile: &Profile, now_ms: i64, rng: &mut Rng) -> Vec<Value> {
    let today = calendar::stockholm_date(now_ms);
    let id = &profile.account.account_id;
    let mut out = Vec::new();
    let archived_until = calendar::sub_days(today, 60);
    let mut risk = i64::try_from(rng.between(20, 70)).unwrap_or(40);
    for day in profile.first_day.iter_days().take_while(|d| *d <= today) {
        if profile.account.state == AccountState::Archived && day > archived_until {
            break;
        }
        let age_days = days_between(profile.first_day, day);
        let weekend = day.weekday().number_from_monday() >= 6;
        let mut scans = json!({ "SNS": 0, "WAS": 0, "CS": 0 });
        let mut pat_assessments = 0;
        for (product, units) in &profile.products {
            let quiet = profile
                .quiet_from
                .is_some_and(|(p, from)| p == *product && day >= from);
            let grown = i64::try_from(*units).unwrap_or(0)
                * (36_500 + profile.growth_percent * age_days)
                / 36_500;
            let noise = i64::try_from(rng.between(90, 110)).unwrap_or(100);
            let units = if quiet {
                0
            } else {
                (grown * noise / 100).max(0)
            };
            let observed_at =
                iso8601((calendar::stockholm_midnight_ms(day) + 20 * 3_600_000).min(now_ms));
            out.push(json!({ "account_id": id, "product": product, "date": day.to_string(), "units": units, "observed_at": observed_at }));
            if quiet {
                continue;
            }
            match *product {
                "SNS" | "WAS" | "CS" => {
                    scans[*product] = json!(rng.between(u64::from(!weekend), 4))
                }
                "PAT" if day.weekday().number_from_monday() == 2 => {
                    pat_assessments = rng.between(1, 3)
                }
                _ => {}
            }
        }
        risk = (risk + i64::try_from(rng.between(0, 10)).unwrap_or(5) - 5).clamp(5, 95);
        let recent = days_between(day, today) < 10;
        // The platform measures a day in the evening (today: just now).
        let observed_at =
            iso8601((calendar::stockholm_midnight_ms(day) + 20 * 3_600_000).min(now_ms));
        out.push(json!({
            "account_id": id,
            "date": day.to_string(),
            "observed_at": observed_at,
            "logins": if weekend { rng.between(0, 2) } else { rng.between(1, 12) },
            "scans": scans,
            "failed_scans": if profile.scan_trouble && recent && rng.chance(30) { rng.between(1, 3) } else { 0 },
            "pat_assessments": pat_assessments,
            "reports_created": if weekend { 0 } else { rng.between(0, 2) },
            "risk_score": risk,
            "threat_score": rng.between(0, 60),
            "inactive_appliances": if profile.appliance_trouble && recent { rng.between(1, 3) } else { 0 },
        }));
    }
    out
}

/// Seeds the accounts of `population` in `partnership`, with their platform records fed
/// through usage ingestion; returns the number of records ingested.
pub async fn seed_partnership(
    app: &App,
    org_id: &str,
    partnership: &Partnership,
    population: Population,
) -> Result<usize, ApiError> {
    let now = app.clock.now_ms();
    let today = calendar::stockholm_date(now);
    let seed = population.seed;
    let profiles = profiles(org_id, partnership, population, today, now);
    for profile in &profiles {
        let account = shared::partner_data::customers::with_indexed_fields(
            partnership.kind,
            profile.account.clone(),
            now,
        );
        app.store
            .create_account(&account)
            .await
            .map_err(ApiError::internal)?;
    }
    let results: Vec<Result<usize, ApiError>> = futures::stream::iter(profiles.iter().enumerate())
        .map(|(index, profile)| async move {
            let mut rng = Rng(seed ^ (index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let messages: Vec<Message> = records(profile, now, &mut rng)
                .into_iter()
                .enumerate()
                .map(|(i, record)| Message {
                    id: i.to_string(),
                    body: record.to_string(),
                })
                .collect();
            let failed = usage::ingest(app, &messages).await;
            if failed.is_empty() {
                Ok(messages.len())
            } else {
                Err(ApiError::internal(format!(
                    "{} generated records of {} were not ingested",
                    failed.len(),
                    profile.account.name
                )))
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().sum()
}
