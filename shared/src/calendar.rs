//! Calendar days and report periods. A "day" is a Europe/Stockholm calendar day (CET, UTC+1;
//! CEST, UTC+2 from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00
//! UTC — the EU rule, in force since 1996). MSSP billing periods run from the 26th of the
//! previous month to the 25th of their month; reseller periods are calendar months. Both are
//! named `YYYY-MM` after the month they end in.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate};

use crate::clock::EpochMillis;
use crate::error::ApiError;

pub type Date = NaiveDate;

/// How many periods (the open one included) the reports keep and list.
pub const REPORT_HISTORY_PERIODS: usize = 24;

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next =
        NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_months(Months::new(1))?;
    let last = first_of_next.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    last.checked_sub_days(Days::new(u64::from(back)))
}

/// Whether Stockholm keeps summer time (UTC+2) at `utc_ms`.
fn summer_time(utc_ms: EpochMillis) -> bool {
    let Some(utc) = DateTime::from_timestamp_millis(utc_ms) else {
        return false;
    };
    let year = utc.year();
    let switch = |month| {
        last_sunday(year, month)
            .and_then(|day| day.and_hms_opt(1, 0, 0))
            .map(|at| at.and_utc().timestamp_millis())
    };
    match (switch(3), switch(10)) {
        (Some(start), Some(end)) => (start..end).contains(&utc_ms),
        _ => false,
    }
}

/// The Stockholm calendar day at `utc_ms`.
pub fn stockholm_date(utc_ms: EpochMillis) -> Date {
    let offset_hours = if summer_time(utc_ms) { 2 } else { 1 };
    let local_ms = utc_ms.saturating_add(offset_hours * 3_600_000);
    DateTime::from_timestamp_millis(local_ms)
        .map(|at| at.date_naive())
        .unwrap_or_default()
}

/// `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Parses a strict `YYYY-MM-DD` calendar date; `field` names it in the error.
pub fn parse_date(text: &str, field: &str) -> Result<Date, ApiError> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    well_formed
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::InvalidParameters(format!(
                "{field} must be a calendar date YYYY-MM-DD (got `{}`)",
                crate::request::redact_credentials(&text.chars().take(40).collect::<String>())
            ))
        })
}

/// Adds whole calendar months, clamping to the month's last day (Jan 31 + 1 → Feb 28).
pub fn add_months(date: Date, months: u32) -> Date {
    date.checked_add_months(Months::new(months)).unwrap_or(date)
}

pub fn add_days(date: Date, days: u64) -> Date {
    date.checked_add_days(Days::new(days)).unwrap_or(date)
}

pub fn sub_days(date: Date, days: u64) -> Date {
    date.checked_sub_days(Days::new(days)).unwrap_or(date)
}

/// Which calendar a report uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeriodKind {
    /// 26th of the previous month to the 25th.
    Mssp,
    /// Calendar months.
    Reseller,
}

/// One report period, named after the month it ends in; periods order by that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    year: i32,
    month: u32,
    kind: PeriodKind,
}

impl Period {
    pub fn kind(self) -> PeriodKind {
        self.kind
    }

    fn new(kind: PeriodKind, year: i32, month: u32) -> Self {
        Self { year, month, kind }
    }

    /// The period `date` falls in.
    pub fn containing(kind: PeriodKind, date: Date) -> Self {
        let named = Self::new(kind, date.year(), date.month());
        if kind == PeriodKind::Mssp && date.day() >= 26 {
            named.next()
        } else {
            named
        }
    }

    /// Parses a period id `YYYY-MM`.
    pub fn parse(kind: PeriodKind, id: &str) -> Option<Self> {
        let (year, month) = id.split_once('-')?;
        let digits = |s: &str, n| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        let (year, month) = (year.parse().ok()?, month.parse().ok()?);
        (1..=12)
            .contains(&month)
            .then(|| Self::new(kind, year, month))
    }

    pub fn id(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    fn first_of_month(self) -> Date {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn start(self) -> Date {
        match self.kind() {
            PeriodKind::Reseller => self.first_of_month(),
            PeriodKind::Mssp => self
                .previous()
                .first_of_month()
                .with_day(26)
                .unwrap_or_default(),
        }
    }

    pub fn end(self) -> Date {
        match self.kind() {
            PeriodKind::Reseller => self.next().first_of_month().pred_opt().unwrap_or_default(),
            PeriodKind::Mssp => self.first_of_month().with_day(25).unwrap_or_default(),
        }
    }

    pub fn contains(self, date: Date) -> bool {
        (self.start()..=self.end()).contains(&date)
    }

    /// Every day of the period, in order.
    pub fn days(self) -> impl Iterator<Item = Date> {
        let end = self.end();
        self.start().iter_days().take_while(move |day| *day <= end)
    }

    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
                ..self
            }
        } else {
            Self {
                month: self.month - 1,
                ..self
            }
        }
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
                ..self
            }
        } else {
            Self {
                month: self.month + 1,
                ..self
            }
        }
    }

    /// Open while `today` has not passed its end.
    pub fn is_open(self, today: Date) -> bool {
        today <= self.end()
    }

    /// The periods reports offer on `today`, newest (the open one) first.
    pub fn history(kind: PeriodKind, today: Date) -> Vec<Self> {
        let mut period = Self::containing(kind, today);
        let mut periods = Vec::with_capacity(REPORT_HISTORY_PERIODS);
        for _ in 0..REPORT_HISTORY_PERIODS {
            periods.push(period);
            period = period.previous();
        }
        periods
    }

    /// Is this one of the periods offered on `today`?
    pub fn is_offered(self, today: Date) -> bool {
        let newest = Self::containing(self.kind(), today);
        let oldest = Self::history(self.kind(), today)
            .last()
            .copied()
            .unwrap_or(newest);
        (oldest..=newest).contains(&self)
    }
}

/// Days from `earlier` to `later` (negative when `later` is before).
pub fn days_between(earlier: Date, later: Date) -> i64 {
    (later - earlier).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> EpochMillis {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    fn date(text: &str) -> Date {
        parse_date(text, "date").unwrap()
    }

    #[test]
    fn stockholm_days_follow_summer_time() {
        // Winter: UTC+1.
        assert_eq!(
            stockholm_date(ms("2026-01-15T22:59:59Z")),
            date("2026-01-15")
        );
        assert_eq!(
            stockholm_date(ms("2026-01-15T23:00:00Z")),
            date("2026-01-16")
        );
        // Summer: UTC+2.
        assert_eq!(
            stockholm_date(ms("2026-07-15T21:59:59Z")),
            date("2026-07-15")
        );
        assert_eq!(
            stockholm_date(ms("2026-07-15T22:00:00Z")),
            date("2026-07-16")
        );
        // The switch days: summer time starts 2026-03-29 01:00 UTC, ends 2026-10-25 01:00 UTC.
        assert_eq!(
            stockholm_date(ms("2026-03-28T23:00:00Z")),
            date("2026-03-29")
        );
        assert_eq!(
            stockholm_date(ms("2026-03-29T21:59:59Z")),
            date("2026-03-29")
        );
        assert_eq!(
            stockholm_date(ms("2026-03-29T22:00:00Z")),
            date("2026-03-30")
        );
        assert_eq!(
            stockholm_date(ms("2026-10-24T22:00:00Z")),
            date("2026-10-25")
        );
        assert_eq!(
            stockholm_date(ms("2026-10-25T22:59:59Z")),
            date("2026-10-25")
        );
        assert_eq!(
            stockholm_date(ms("2026-10-25T23:00:00Z")),
            date("2026-10-26")
        );
    }

    #[test]
    fn agrees_with_the_tz_database_every_half_hour_for_three_years() {
        use chrono::TimeZone;
        let stockholm = chrono_tz::Europe::Stockholm;
        let mut at = ms("2025-01-01T00:00:00Z");
        while at < ms("2028-01-01T00:00:00Z") {
            let expected = stockholm.timestamp_millis_opt(at).unwrap().date_naive();
            assert_eq!(stockholm_date(at), expected, "at {at}");
            at += 1_800_000;
        }
    }

    #[test]
    fn mssp_periods_run_from_the_26th_to_the_25th() {
        let p = Period::containing(PeriodKind::Mssp, date("2026-11-25"));
        assert_eq!(
            (p.id(), p.start(), p.end()),
            ("2026-11".into(), date("2026-10-26"), date("2026-11-25"))
        );
        let p = Period::containing(PeriodKind::Mssp, date("2026-11-26"));
        assert_eq!(
            (p.id(), p.start(), p.end()),
            ("2026-12".into(), date("2026-11-26"), date("2026-12-25"))
        );
        let p = Period::containing(PeriodKind::Mssp, date("2026-12-31"));
        assert_eq!(
            (p.id(), p.start(), p.end()),
            ("2027-01".into(), date("2026-12-26"), date("2027-01-25"))
        );
        let p = Period::parse(PeriodKind::Mssp, "2026-03").unwrap();
        assert_eq!(
            (p.start(), p.end(), p.days().count()),
            (date("2026-02-26"), date("2026-03-25"), 28)
        );
        let p = Period::parse(PeriodKind::Mssp, "2028-03").unwrap();
        assert_eq!(p.days().count(), 29, "leap February");
    }

    #[test]
    fn reseller_periods_are_calendar_months() {
        let p = Period::containing(PeriodKind::Reseller, date("2026-02-28"));
        assert_eq!(
            (p.id(), p.start(), p.end()),
            ("2026-02".into(), date("2026-02-01"), date("2026-02-28"))
        );
        let p = Period::parse(PeriodKind::Reseller, "2028-02").unwrap();
        assert_eq!(p.end(), date("2028-02-29"));
        let p = Period::parse(PeriodKind::Reseller, "2026-12").unwrap();
        assert_eq!(
            (p.end(), p.next().id()),
            (date("2026-12-31"), "2027-01".into())
        );
    }

    #[test]
    fn period_ids_are_strict() {
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "2026-11-01",
            "",
            "abcd-ef",
        ] {
            assert!(Period::parse(PeriodKind::Mssp, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn history_lists_the_open_period_first() {
        let today = date("2026-11-26");
        let history = Period::history(PeriodKind::Mssp, today);
        assert_eq!(history.len(), REPORT_HISTORY_PERIODS);
        assert_eq!(history[0].id(), "2026-12");
        assert!(history[0].is_open(today));
        assert!(!history[1].is_open(today));
        assert!(history[23].is_offered(today));
        assert!(!history[23].previous().is_offered(today));
        assert!(!history[0].next().is_offered(today));
    }

    #[test]
    fn dates_are_strict() {
        for bad in [
            "2026-2-01",
            "2026-02-30",
            "20260201",
            "2026-02-01T00:00:00Z",
            " 2026-02-01",
            "２０２６-02-01",
        ] {
            assert_eq!(
                parse_date(bad, "start_date").unwrap_err().code(),
                11400,
                "{bad}"
            );
        }
        assert_eq!(add_months(date("2026-01-31"), 1), date("2026-02-28"));
    }
}
