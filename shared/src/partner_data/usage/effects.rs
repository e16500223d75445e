//! What a change of an account's provisioned fields does to the reports: which MSSP
//! periods to recompute, and what it writes to the closed periods it reaches (late counts,
//! and the snapshots that keep closed reseller months as they stood).

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::partner_data::calendar::{Period, PeriodKind, PeriodStatus};
use crate::storage::ClosedPeriodWrites;
use crate::storage::records::{
    AccountRecord, PartnershipType, ResellerSnapshot, SubscriptionRecord,
};

/// What a change of an account's provisioned fields does to the reports: the MSSP periods
/// to recompute (not closed), and what it writes to the closed periods it reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChangeEffect {
    pub recompute: BTreeSet<Period>,
    pub closed: ClosedPeriodWrites,
}

/// The effect of changing `before` into `after` on `today`, in a partnership of `kind`.
/// MSSP: a new state from some day touches every period from that day's on, a new name the
/// periods not yet closed; a closed period it reaches counts the change as late. Reseller: a
/// subscription change that reaches a closed month is counted there as late, and the
/// account's subscriptions of that month are kept as they stood (first change only).
pub fn account_change_effect(
    kind: PartnershipType,
    before: &AccountRecord,
    after: &AccountRecord,
    today: NaiveDate,
    grace_days: u32,
) -> AccountChangeEffect {
    let mut effect = AccountChangeEffect::default();
    match kind {
        PartnershipType::Mssp => {
            let changed_from = after
                .state_history
                .iter()
                .filter(|change| !before.state_history.contains(change))
                .chain(
                    before
                        .state_history
                        .iter()
                        .filter(|change| !after.state_history.contains(change)),
                )
                .map(|change| change.since)
                .min();
            for period in Period::history(PeriodKind::Mssp, today) {
                let state_touches = changed_from.is_some_and(|since| period.end() >= since);
                if period.status(today, grace_days) == PeriodStatus::Closed {
                    if state_touches {
                        effect.closed.late.push(period);
                    }
                } else if state_touches || before.name != after.name {
                    effect.recompute.insert(period);
                }
            }
        }
        PartnershipType::Reseller => {
            let changed: Vec<&SubscriptionRecord> = before
                .subscriptions
                .iter()
                .filter(|(id, sub)| after.subscriptions.get(*id) != Some(sub))
                .map(|(_, sub)| sub)
                .chain(
                    after
                        .subscriptions
                        .iter()
                        .filter(|(id, sub)| before.subscriptions.get(*id) != Some(sub))
                        .map(|(_, sub)| sub),
                )
                .collect();
            effect.closed = freeze_months(before, &changed, today, grace_days);
        }
    }
    effect
}

/// What deleting `account` writes to the closed reseller months its subscriptions reach.
pub fn account_deletion_effect(
    kind: PartnershipType,
    account: &AccountRecord,
    today: NaiveDate,
    grace_days: u32,
) -> ClosedPeriodWrites {
    match kind {
        PartnershipType::Mssp => ClosedPeriodWrites::default(),
        PartnershipType::Reseller => {
            let all: Vec<&SubscriptionRecord> = account.subscriptions.values().collect();
            freeze_months(account, &all, today, grace_days)
        }
    }
}

/// The closed offered months `changed` subscriptions overlap: each counts one late change
/// and keeps `before`'s subscriptions of that month.
fn freeze_months(
    before: &AccountRecord,
    changed: &[&SubscriptionRecord],
    today: NaiveDate,
    grace_days: u32,
) -> ClosedPeriodWrites {
    let mut writes = ClosedPeriodWrites::default();
    for month in Period::history(PeriodKind::Reseller, today) {
        if month.status(today, grace_days) != PeriodStatus::Closed
            || !changed.iter().any(|sub| sub.overlaps(month))
        {
            continue;
        }
        writes.late.push(month);
        let snapshot = ResellerSnapshot {
            account_id: before.account_id.clone(),
            name: before.name.clone(),
            state: before.state,
            subscriptions: before
                .subscriptions
                .values()
                .filter(|sub| sub.overlaps(month))
                .cloned()
                .collect(),
        };
        writes.snapshots.push((month, snapshot));
    }
    writes
}
