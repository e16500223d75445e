//! Calendar days and report periods. A "day" is a Europe/Stockholm calendar day, taken from
//! the tz database at run time (`chrono-tz`, built with only that zone: see
//! `.cargo/config.toml`), so a change of the rules — the EU has debated ending clock
//! changes — arrives with a dependency update instead of silently shifting billing days.
//! MSSP billing periods run from the 26th of the previous month to the 25th of their month;
//! reseller periods are calendar months. Both are named `YYYY-MM` after the month they end in.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone};
use chrono_tz::Europe::Stockholm;

use crate::platform::clock::EpochMillis;
use crate::platform::error::ApiError;

pub type Date = NaiveDate;

/// How many periods (the open one included) the reports keep and list.
pub const REPORT_HISTORY_PERIODS: usize = 24;

/// The Stockholm calendar day at `utc_ms`.
pub fn stockholm_date(utc_ms: EpochMillis) -> Date {
    DateTime::from_timestamp_millis(utc_ms)
        .map(|at| at.with_timezone(&Stockholm).date_naive())
        .unwrap_or_default()
}

/// The instant `day` begins in Stockholm (midnight local time; on a day whose midnight a
/// clock change skipped, the first instant that exists).
pub fn stockholm_midnight_ms(day: Date) -> EpochMillis {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    Stockholm
        .from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            let one_am = day.and_hms_opt(1, 0, 0)?;
            Stockholm.from_local_datetime(&one_am).earliest()
        })
        .map_or(0, |at| at.timestamp_millis())
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
                crate::platform::request::redact_credentials(
                    &text.chars().take(40).collect::<String>()
                )
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

    /// `open` up to its last day, `closing` for `grace_days` after it (late platform records
    /// still count), then `closed`: its figures are final.
    pub fn status(self, today: Date, grace_days: u32) -> PeriodStatus {
        if today <= self.end() {
            PeriodStatus::Open
        } else if today < self.closing_day(grace_days) {
            PeriodStatus::Closing
        } else {
            PeriodStatus::Closed
        }
    }

    /// The first Stockholm day on which the period is closed.
    pub fn closing_day(self, grace_days: u32) -> Date {
        add_days(self.end(), u64::from(grace_days) + 1)
    }

    /// The instant the period closes: midnight in Stockholm starting its closing day.
    pub fn closes_at_ms(self, grace_days: u32) -> EpochMillis {
        stockholm_midnight_ms(self.closing_day(grace_days))
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

/// Where a report period stands in its life (see [`Period::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodStatus {
    Open,
    Closing,
    Closed,
}

impl PeriodStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closing => "closing",
            Self::Closed => "closed",
        }
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
    fn only_the_stockholm_zone_is_compiled_in() {
        // `.cargo/config.toml` filters the tz database at build time; without the filter
        // every function would carry ~600 zones it never uses. (chrono-tz always keeps UTC
        // and the Etc/GMT zones, and the zones linked to Stockholm's rules.)
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        assert!(names.contains(&"Europe/Stockholm"), "{names:?}");
        assert!(!names.contains(&"America/New_York"), "{names:?}");
        assert!(names.len() < 60, "{} zones", names.len());
    }

    #[test]
    fn days_begin_at_stockholm_midnight_in_winter_and_in_summer() {
        assert_eq!(
            stockholm_midnight_ms(date("2026-01-16")),
            ms("2026-01-15T23:00:00Z")
        );
        assert_eq!(
            stockholm_midnight_ms(date("2026-07-16")),
            ms("2026-07-15T22:00:00Z")
        );
        // The days after each switch begin at the new offset.
        assert_eq!(
            stockholm_midnight_ms(date("2026-03-30")),
            ms("2026-03-29T22:00:00Z")
        );
        assert_eq!(
            stockholm_midnight_ms(date("2026-10-26")),
            ms("2026-10-25T23:00:00Z")
        );
        for day in ["2026-03-29", "2026-10-25", "2027-02-28"] {
            let at = stockholm_midnight_ms(date(day));
            assert_eq!(stockholm_date(at), date(day));
            assert_eq!(stockholm_date(at - 1), sub_days(date(day), 1));
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
        assert_eq!(history[0].status(today, 3), PeriodStatus::Open);
        assert_eq!(history[1].status(today, 3), PeriodStatus::Closing);
        assert!(history[23].is_offered(today));
        assert!(!history[23].previous().is_offered(today));
        assert!(!history[0].next().is_offered(today));
    }

    #[test]
    fn a_period_is_open_then_closing_for_the_grace_days_then_closed() {
        let p = Period::parse(PeriodKind::Mssp, "2026-11").unwrap();
        let status = |day: &str| p.status(date(day), 3);
        assert_eq!(status("2026-11-25"), PeriodStatus::Open);
        assert_eq!(status("2026-11-26"), PeriodStatus::Closing);
        assert_eq!(status("2026-11-28"), PeriodStatus::Closing);
        assert_eq!(status("2026-11-29"), PeriodStatus::Closed);
        assert_eq!(p.status(date("2026-11-26"), 0), PeriodStatus::Closed);
        assert_eq!(p.closing_day(3), date("2026-11-29"));
        assert_eq!(p.closes_at_ms(3), ms("2026-11-28T23:00:00Z"));
        let july = Period::parse(PeriodKind::Reseller, "2026-07").unwrap();
        assert_eq!(july.closes_at_ms(3), ms("2026-08-03T22:00:00Z"));
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
