//! The customers index, so that a list filtered on `churn_risk` or `task_severity` costs
//! O(limit): each account carries the two levels computed on a day, and has one index item
//! per filter (churn risk, task severity, both) in name order under its levels; one status
//! item counts the accounts per level and records the days of the daily recompute.
//!
//! Levels depend on the day (activity windows slide, contracts come closer to their end), so
//! the index is only valid for a day once every account's levels are computed for it. Every
//! write of an account computes them for its own day and moves the index items and the
//! counts in its transaction; one computed in the last minutes before midnight also checks
//! on the status item that the recompute has not opened a later day (if it has, the write is
//! refused and retried with the new day). The recompute opens the day, recomputes every account read after that, and
//! marks the day complete: a filtered list reads the index only for a complete day (its own),
//! and reads every account otherwise.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::account_list::{CountMoves, PageStart, listing_position, number, string};
use super::records::AccountRecord;
use super::{AccountPage, Store, StoreError, is_condition_failure, keys, n, s, to_i64};
use crate::partner_data::calendar;
use crate::platform::clock::EpochMillis;

/// A level of the customers view: the highest severity of an account's tasks (or churn-risk
/// tasks), `none` without any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Low,
    Medium,
    High,
}

impl Level {
    pub const ALL: [Self; 4] = [Self::None, Self::Low, Self::Medium, Self::High];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == text)
    }
}

/// An account's levels as computed on `day`, at `computed_at_ms` (stored on the account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLevels {
    pub churn_risk: Level,
    pub task_severity: Level,
    pub day: NaiveDate,
    pub computed_at_ms: EpochMillis,
}

/// How long before Stockholm midnight a write's levels are checked against the recompute's
/// opened day. A write computed earlier cannot land after the recompute opens the next day:
/// that runs at 00:05 and every function that writes levels times out within a minute. So
/// only these writes take the check on the one status item, which would otherwise meet
/// every other write of the partnership there.
pub const LATE_WRITE_WINDOW_MS: EpochMillis = 15 * 60 * 1000;

impl CustomerLevels {
    /// Could a write of these levels land after the recompute opened the next day?
    fn late_in_their_day(&self) -> bool {
        let midnight = calendar::stockholm_midnight_ms(calendar::add_days(self.day, 1));
        midnight - self.computed_at_ms <= LATE_WRITE_WINDOW_MS
    }
}

impl CustomerLevels {
    /// The same levels (whatever day they were computed on).
    pub fn same_levels(&self, other: &Self) -> bool {
        (self.churn_risk, self.task_severity) == (other.churn_risk, other.task_severity)
    }
}

/// What a filtered customer list asks for; at least one level is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LevelFilter {
    pub churn_risk: Option<Level>,
    pub task_severity: Option<Level>,
}

impl LevelFilter {
    /// The index part (after [`keys::CUSTOMER_INDEX_PREFIX`]) of the accounts it matches and
    /// its count attribute; `None` without any level.
    fn index(self) -> Option<(String, String)> {
        match (self.churn_risk, self.task_severity) {
            (Some(churn), Some(tasks)) => Some((
                format!("BOTH#{}#{}#", churn.as_str(), tasks.as_str()),
                format!("both_{}_{}", churn.as_str(), tasks.as_str()),
            )),
            (Some(churn), None) => Some((
                format!("CHURN#{}#", churn.as_str()),
                format!("churn_{}", churn.as_str()),
            )),
            (None, Some(tasks)) => Some((
                format!("TASKS#{}#", tasks.as_str()),
                format!("tasks_{}", tasks.as_str()),
            )),
            (None, None) => None,
        }
    }

    pub fn matches(self, levels: &CustomerLevels) -> bool {
        self.churn_risk.is_none_or(|l| l == levels.churn_risk)
            && self.task_severity.is_none_or(|l| l == levels.task_severity)
    }

    /// The three filters an account with `levels` is listed under.
    fn all_of(levels: &CustomerLevels) -> [Self; 3] {
        [
            Self {
                churn_risk: Some(levels.churn_risk),
                task_severity: None,
            },
            Self {
                churn_risk: None,
                task_severity: Some(levels.task_severity),
            },
            Self {
                churn_risk: Some(levels.churn_risk),
                task_severity: Some(levels.task_severity),
            },
        ]
    }
}

/// The days of the daily recompute, as its status item records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecomputeDays {
    /// The latest day the recompute began (writes of earlier days are refused from then).
    pub opened: Option<NaiveDate>,
    /// The latest day every account's levels were computed for.
    pub complete: Option<NaiveDate>,
}

const OPENED: &str = "opened_day";
const COMPLETE: &str = "complete_day";

fn day_attribute(item: &super::Item, name: &str) -> Option<NaiveDate> {
    string(item, name).and_then(|text| text.parse().ok())
}

/// The latest day the daily recompute completed, as its status item records it.
pub(super) fn complete_day(status: &super::Item) -> Option<NaiveDate> {
    day_attribute(status, COMPLETE)
}

impl Store {
    /// What an account going from `before` to `after` (`None`: absent) does to the customers
    /// index: items to move, counts to move, and — when `after` carries levels computed late
    /// in their day — the check that the recompute has not opened a day after theirs.
    pub(super) fn customer_index_actions(
        &self,
        partnership_id: &str,
        before: Option<&AccountRecord>,
        after: Option<&AccountRecord>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let entries = |account: Option<&AccountRecord>| -> Vec<(keys::Key, String)> {
            let Some((account, levels)) = account.and_then(|a| Some((a, a.levels?))) else {
                return Vec::new();
            };
            let position = listing_position(account);
            LevelFilter::all_of(&levels)
                .into_iter()
                .filter_map(LevelFilter::index)
                .map(|(prefix, _)| {
                    let key = keys::customer_index(partnership_id, &prefix, &position);
                    (key, account.account_id.clone())
                })
                .collect()
        };
        let mut actions = self.listing_item_moves(&entries(before), &entries(after))?;
        let mut moves = CountMoves::default();
        for (account, by) in [(before, -1), (after, 1)] {
            let Some(levels) = account.and_then(|a| a.levels) else {
                continue;
            };
            for (_, attribute) in LevelFilter::all_of(&levels)
                .into_iter()
                .filter_map(LevelFilter::index)
            {
                moves.add(attribute, by);
            }
        }
        let late = after
            .and_then(|a| a.levels)
            .filter(CustomerLevels::late_in_their_day);
        let condition = late.map(|levels| levels.day.to_string()).map(|day| {
            (
                "attribute_not_exists(opened_day) OR opened_day <= :written_day",
                vec![(":written_day", s(day))],
            )
        });
        let status = keys::customer_index_status(partnership_id);
        actions.extend(self.count_update(status, moves, condition)?);
        Ok(actions)
    }

    pub async fn recompute_days(&self, partnership_id: &str) -> Result<RecomputeDays, StoreError> {
        let item = self
            .get_item(keys::customer_index_status(partnership_id))
            .await?;
        Ok(
            item.map_or_else(RecomputeDays::default, |item| RecomputeDays {
                opened: day_attribute(&item, OPENED),
                complete: day_attribute(&item, COMPLETE),
            }),
        )
    }

    /// Opens `day` for the recompute: from now on, writes of an earlier day are refused.
    /// False when a later day is open already.
    pub async fn open_recompute_day(
        &self,
        partnership_id: &str,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        self.set_status_day(
            partnership_id,
            OPENED,
            day,
            "attribute_not_exists(opened_day) OR opened_day <= :day",
        )
        .await
    }

    /// Marks `day` complete: every account's levels are computed for it. False when the
    /// recompute has opened another day meanwhile.
    pub async fn complete_recompute_day(
        &self,
        partnership_id: &str,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        self.set_status_day(partnership_id, COMPLETE, day, "opened_day = :day")
            .await
    }

    async fn set_status_day(
        &self,
        partnership_id: &str,
        attribute: &str,
        day: NaiveDate,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let key = keys::customer_index_status(partnership_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.pk))
            .key("sk", s(key.sk))
            .update_expression("SET #day = :day")
            .condition_expression(condition)
            .expression_attribute_names("#day", attribute)
            .expression_attribute_values(":day", s(day.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(StoreError::sdk("UpdateItem", err)),
        }
    }

    /// The page of customers matching `filter` in name order from `start`, from the index,
    /// when it is complete for `day`; `None` when it is not (the caller reads every account).
    pub async fn customer_page(
        &self,
        partnership_id: &str,
        filter: LevelFilter,
        day: NaiveDate,
        start: PageStart,
        limit: usize,
    ) -> Result<Option<AccountPage>, StoreError> {
        let Some((prefix, count_attribute)) = filter.index() else {
            return Ok(None);
        };
        let prefix = format!("{}{prefix}", keys::CUSTOMER_INDEX_PREFIX);
        let read = self.listing_read(partnership_id, prefix, &start, limit);
        let status_key = keys::customer_index_status(partnership_id);
        let (listed, status) = futures::try_join!(read.items(self), self.get_item(status_key))?;
        let Some(status) = status.filter(|item| day_attribute(item, COMPLETE) == Some(day)) else {
            return Ok(None);
        };
        let (page, next) = read.page(listed);
        let accounts = self
            .listed_accounts(partnership_id, &page, None)
            .await?
            .into_iter()
            // An account whose levels changed since its index item was read is left out.
            .filter(|a| a.levels.is_some_and(|levels| filter.matches(&levels)))
            .collect();
        Ok(Some(AccountPage {
            accounts,
            next,
            total: number(&status, &count_attribute).unwrap_or(0),
        }))
    }
}

/// A condition expression with its values.
pub(super) type AsRead = (String, Vec<(&'static str, AttributeValue)>);

/// The condition that an account is still as `read`: its provisioned fields (`revision`),
/// what ingestion derived (`derived_seq`), its levels (which the recompute writes alone),
/// its usage months and its month lists (written without either counter moving), with its
/// values.
pub(super) fn unchanged_since_read(read: &AccountRecord) -> Result<AsRead, StoreError> {
    let derived = if read.derived_seq == 0 {
        "(attribute_not_exists(derived_seq) OR derived_seq = :read_derived_seq)"
    } else {
        "derived_seq = :read_derived_seq"
    };
    let mut values = vec![
        (":read_revision", n(to_i64(read.revision))),
        (":read_derived_seq", n(to_i64(read.derived_seq))),
    ];
    let levels = match read.levels {
        None => "attribute_not_exists(levels)",
        Some(levels) => {
            values.push((":read_churn_risk", s(levels.churn_risk.as_str())));
            values.push((":read_task_severity", s(levels.task_severity.as_str())));
            "levels.churn_risk = :read_churn_risk AND levels.task_severity = :read_task_severity"
        }
    };
    // Stored only when not empty; compared whole (DynamoDB compares lists and maps).
    let usage_months = if read.usage_months.is_empty() {
        "attribute_not_exists(usage_months)"
    } else {
        values.push((
            ":read_usage_months",
            serde_dynamo::to_attribute_value(&read.usage_months)?,
        ));
        "usage_months = :read_usage_months"
    };
    let month_lists = if read.month_lists.is_empty() {
        "attribute_not_exists(month_lists)"
    } else {
        values.push((
            ":read_month_lists",
            serde_dynamo::to_attribute_value(&read.month_lists)?,
        ));
        "month_lists = :read_month_lists"
    };
    Ok((
        format!(
            "revision = :read_revision AND {derived} AND {levels} AND {usage_months} AND {month_lists}"
        ),
        values,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn computed_at(day: &str, at: &str) -> CustomerLevels {
        CustomerLevels {
            churn_risk: Level::None,
            task_severity: Level::High,
            day: day.parse().unwrap(),
            computed_at_ms: chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .timestamp_millis(),
        }
    }

    #[test]
    fn only_levels_computed_in_the_last_fifteen_minutes_of_their_day_are_checked() {
        // Stockholm midnight of 2026-11-23 is 23:00 UTC on the 22nd (winter time).
        assert!(!computed_at("2026-11-22", "2026-11-22T22:44:59Z").late_in_their_day());
        assert!(computed_at("2026-11-22", "2026-11-22T22:45:00Z").late_in_their_day());
        assert!(computed_at("2026-11-22", "2026-11-22T22:59:59Z").late_in_their_day());
        // Summer time: midnight of 2026-07-16 is 22:00 UTC on the 15th.
        assert!(!computed_at("2026-07-15", "2026-07-15T21:44:59Z").late_in_their_day());
        assert!(computed_at("2026-07-15", "2026-07-15T21:45:00Z").late_in_their_day());
    }

    #[test]
    fn levels_parse_from_and_print_as_their_query_words() {
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(level));
            assert_eq!(serde_json::to_value(level).unwrap(), level.as_str());
        }
        assert_eq!(Level::parse("severe"), None);
        assert_eq!(Level::parse("High"), None);
    }
}
