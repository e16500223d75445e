//! Minimum commitments of a partnership (MSSP billing: billable units = the larger of the
//! period's peak and the commitment in force on the period's first day). The vendor's
//! operators change them (`portalctl set-commitment`, audited); each product keeps a history
//! of terms, and every MSSP report reads it fresh. A change may never reach a closed period:
//! its figures are final.

use chrono::NaiveDate;
use serde_json::json;

use crate::access::audit;
use crate::partner_data::calendar::{self, Period, PeriodKind, PeriodStatus, format_date};
use crate::platform::clock::EpochMillis;
use crate::platform::error::ApiError;
use crate::storage::Store;
use crate::storage::records::{Commitment, Commitments, Partnership};

/// Attempts of a read-modify-write before giving up (each lost race re-reads).
const WRITE_ATTEMPTS: usize = 5;

/// A new term for one product: `units` (0 = no commitment) from `from` to `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentChange {
    pub product: String,
    pub units: u64,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// Puts `change` into `terms`: whatever was in force on its days gives way to it.
pub fn apply(terms: &mut Vec<Commitment>, change: &CommitmentChange) {
    let mut kept = Vec::new();
    for term in terms.drain(..) {
        let term_end = term.end_date.unwrap_or(NaiveDate::MAX);
        let change_end = change.until.unwrap_or(NaiveDate::MAX);
        if term_end < change.from || term.start_date > change_end {
            kept.push(term);
            continue;
        }
        if term.start_date < change.from {
            kept.push(Commitment {
                end_date: change.from.pred_opt(),
                ..term
            });
        }
        if let Some(until) = change.until.filter(|until| term_end > *until) {
            kept.push(Commitment {
                start_date: calendar::add_days(until, 1),
                ..term
            });
        }
    }
    if change.units > 0 {
        kept.push(Commitment {
            units: change.units,
            start_date: change.from,
            end_date: change.until,
        });
    }
    kept.sort_by_key(|term| term.start_date);
    *terms = kept;
}

/// Refuses a change that is malformed or would move a closed period's figures.
fn check(
    partnership: &Partnership,
    change: &CommitmentChange,
    today: NaiveDate,
    grace_days: u32,
) -> Result<(), ApiError> {
    if !partnership.sells(&change.product) {
        return Err(ApiError::InvalidParameters(format!(
            "partnership `{}` does not sell `{}`",
            partnership.name, change.product
        )));
    }
    if change.until.is_some_and(|until| until < change.from) {
        return Err(ApiError::InvalidParameters(
            "the end date must be on or after the start date".into(),
        ));
    }
    // The first period the change reaches is the first one starting on or after `from`.
    let mut first = Period::containing(PeriodKind::Mssp, change.from);
    if first.start() < change.from {
        first = first.next();
    }
    if first.status(today, grace_days) == PeriodStatus::Closed {
        return Err(ApiError::Conflict(format!(
            "MSSP period {} is closed and its figures are final: a commitment change must start after {}",
            first.id(),
            format_date(first.start())
        )));
    }
    Ok(())
}

/// Applies `change` to the partnership's commitments, with an audit entry of the
/// organization `org_id` by `actor`.
pub async fn set_commitment(
    store: &Store,
    org_id: &str,
    partnership: &Partnership,
    change: &CommitmentChange,
    now: EpochMillis,
    grace_days: u32,
    actor: &str,
) -> Result<Commitments, ApiError> {
    check(
        partnership,
        change,
        calendar::stockholm_date(now),
        grace_days,
    )?;
    for _ in 0..WRITE_ATTEMPTS {
        let mut commitments = store
            .commitments(&partnership.id)
            .await
            .map_err(ApiError::internal)?;
        let read_revision = commitments.revision;
        apply(
            commitments
                .products
                .entry(change.product.clone())
                .or_default(),
            change,
        );
        commitments.products.retain(|_, terms| !terms.is_empty());
        commitments.revision = read_revision + 1;
        let entry = audit::entry(
            now,
            actor,
            audit::action::COMMITMENT_SET,
            format!("partnership:{}", partnership.id),
            None,
            json!({
                "product": change.product,
                "units": change.units,
                "from": format_date(change.from),
                "until": change.until.map(format_date),
            }),
        );
        if store
            .save_commitments(&commitments, read_revision, org_id, &entry)
            .await
            .map_err(ApiError::internal)?
        {
            return Ok(commitments);
        }
    }
    Err(ApiError::ServiceBusy {
        retry_after_ms: 1000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        calendar::parse_date(text, "date").unwrap()
    }

    fn term(units: u64, start: &str, end: Option<&str>) -> Commitment {
        Commitment {
            units,
            start_date: date(start),
            end_date: end.map(date),
        }
    }

    fn change(units: u64, from: &str, until: Option<&str>) -> CommitmentChange {
        CommitmentChange {
            product: "SNS".into(),
            units,
            from: date(from),
            until: until.map(date),
        }
    }

    #[test]
    fn a_new_term_ends_the_one_in_force_and_replaces_later_ones() {
        let mut terms = vec![term(651, "2026-01-26", None)];
        apply(&mut terms, &change(800, "2026-06-26", None));
        assert_eq!(
            terms,
            [
                term(651, "2026-01-26", Some("2026-06-25")),
                term(800, "2026-06-26", None)
            ]
        );
        apply(&mut terms, &change(700, "2026-03-26", Some("2026-04-25")));
        assert_eq!(
            terms,
            [
                term(651, "2026-01-26", Some("2026-03-25")),
                term(700, "2026-03-26", Some("2026-04-25")),
                term(651, "2026-04-26", Some("2026-06-25")),
                term(800, "2026-06-26", None)
            ]
        );
        apply(&mut terms, &change(0, "2026-04-26", None));
        assert_eq!(
            terms,
            [
                term(651, "2026-01-26", Some("2026-03-25")),
                term(700, "2026-03-26", Some("2026-04-25")),
            ]
        );
    }

    #[test]
    fn a_period_has_the_commitment_in_force_on_its_first_day() {
        let commitments = Commitments {
            partnership_id: "p".into(),
            revision: 1,
            products: [("SNS".to_owned(), vec![term(651, "2026-06-26", None)])].into(),
        };
        let start = |id: &str| Period::parse(PeriodKind::Mssp, id).unwrap().start();
        assert_eq!(commitments.for_period("SNS", start("2026-06")), None);
        assert_eq!(commitments.for_period("SNS", start("2026-07")), Some(651));
        assert_eq!(commitments.for_period("DA", start("2026-07")), None);
    }

    #[test]
    fn a_change_cannot_reach_a_closed_period() {
        let partnership = Partnership {
            id: "p".into(),
            name: "MSSP".into(),
            kind: crate::storage::records::PartnershipType::Mssp,
            skus: vec!["SNS".into()],
        };
        let today = date("2026-11-22");
        // 2026-10 (09-26..10-25) closed on 10-29; 2026-11 is open.
        let refused = check(&partnership, &change(1, "2026-09-26", None), today, 3);
        assert_eq!(
            refused.unwrap_err().code(),
            ApiError::Conflict(String::new()).code()
        );
        assert!(check(&partnership, &change(1, "2026-09-27", None), today, 3).is_ok());
        assert!(check(&partnership, &change(1, "2026-10-26", None), today, 3).is_ok());
        let bad = CommitmentChange {
            product: "XYZ".into(),
            ..change(1, "2026-10-26", None)
        };
        assert!(check(&partnership, &bad, today, 3).is_err());
        assert!(
            check(
                &partnership,
                &change(1, "2026-10-26", Some("2026-10-01")),
                today,
                3
            )
            .is_err()
        );
    }
}
