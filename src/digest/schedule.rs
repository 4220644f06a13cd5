//! When an alert sends: `immediate [WINDOW]`, `every DURATION`, `hourly`,
//! `daily HH:MM [TZ]`, `weekly DAY HH:MM [TZ]` (TZ is an IANA name such as
//! `Asia/Baghdad`; default UTC). Pure functions of time, no clock.
//!
//! Scheduled alerts cut their digest at *boundaries*: `every` boundaries are
//! multiples of the period since the Unix epoch (so `hourly` is on the hour
//! and restarts do not shift them); `daily`/`weekly` boundaries are the wall
//! clock time in the zone. A wall time skipped by a DST change fires an hour
//! later; an ambiguous one fires at its first occurrence.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Default coalescing window of `immediate` alerts (`immediate` without
/// a window).
pub const IMMEDIATE_WINDOW: Duration = Duration::from_secs(60);

/// A parsed schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Send as matches arrive, coalescing what arrives within `window` of
    /// the first unsent match into one digest.
    Immediate {
        window: Duration,
    },
    Every {
        period: Duration,
    },
    Daily {
        at: NaiveTime,
        tz: Tz,
    },
    Weekly {
        day: Weekday,
        at: NaiveTime,
        tz: Tz,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a schedule: use immediate, every 30m, hourly, daily HH:MM [Zone/City] or weekly mon HH:MM [Zone/City]")]
pub struct ScheduleError(String);

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ScheduleError(s.to_string());
        let parts: Vec<&str> = s.split_whitespace().collect();
        let tz = |name: Option<&&str>| -> Result<Tz, ScheduleError> {
            match name {
                None => Ok(Tz::UTC),
                Some(n) => n
                    .parse::<Tz>()
                    .map_err(|_| ScheduleError(format!("{s} (unknown time zone {n})"))),
            }
        };
        let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| err());
        match parts.as_slice() {
            ["immediate"] => Ok(Schedule::Immediate {
                window: IMMEDIATE_WINDOW,
            }),
            ["immediate", w] => Ok(Schedule::Immediate {
                window: humantime::parse_duration(w).map_err(|_| err())?,
            }),
            ["hourly"] => Ok(Schedule::Every {
                period: Duration::from_secs(3600),
            }),
            ["every", d] => {
                let period = humantime::parse_duration(d).map_err(|_| err())?;
                if period < Duration::from_secs(60) {
                    return Err(ScheduleError(format!("{s} (the shortest period is 1m)")));
                }
                Ok(Schedule::Every { period })
            }
            ["daily", t, rest @ ..] if rest.len() <= 1 => Ok(Schedule::Daily {
                at: time(t)?,
                tz: tz(rest.first())?,
            }),
            ["weekly", d, t, rest @ ..] if rest.len() <= 1 => Ok(Schedule::Weekly {
                day: d.parse::<Weekday>().map_err(|_| err())?,
                at: time(t)?,
                tz: tz(rest.first())?,
            }),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Immediate { window } => write!(f, "immediate {}", humantime::format_duration(*window)),
            Schedule::Every { period } => write!(f, "every {}", humantime::format_duration(*period)),
            Schedule::Daily { at, tz } => write!(f, "daily {} {tz}", at.format("%H:%M")),
            Schedule::Weekly { day, at, tz } => write!(f, "weekly {day} {} {tz}", at.format("%H:%M")),
        }
    }
}

impl Schedule {
    /// The zone digests of this schedule show times in.
    pub fn timezone(&self) -> Tz {
        match self {
            Schedule::Daily { tz, .. } | Schedule::Weekly { tz, .. } => *tz,
            _ => Tz::UTC,
        }
    }

    /// The latest boundary at or before `t`; `None` for `immediate`.
    pub fn last_boundary(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match *self {
            Schedule::Immediate { .. } => None,
            Schedule::Every { period } => {
                let p = period.as_secs() as i64;
                DateTime::from_timestamp(t.timestamp().div_euclid(p) * p, 0)
            }
            Schedule::Daily { at, tz } => {
                let today = t.with_timezone(&tz).date_naive();
                let candidate = wall(tz, today, at);
                Some(if candidate <= t {
                    candidate
                } else {
                    wall(tz, today.pred_opt()?, at)
                })
            }
            Schedule::Weekly { day, at, tz } => {
                let today = t.with_timezone(&tz).date_naive();
                let back = (7 + today.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
                let date = today - chrono::Days::new(u64::from(back));
                let candidate = wall(tz, date, at);
                Some(if candidate <= t {
                    candidate
                } else {
                    wall(tz, date - chrono::Days::new(7), at)
                })
            }
        }
    }

    /// The first boundary strictly after `t`; `None` for `immediate`.
    pub fn next_boundary(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let last = self.last_boundary(t)?;
        let step = match *self {
            Schedule::Every { period } => return Some(last + chrono::Duration::from_std(period).ok()?),
            Schedule::Daily { .. } => 1,
            Schedule::Weekly { .. } => 7,
            Schedule::Immediate { .. } => return None,
        };
        // Walk forward by calendar days so DST changes keep the wall time.
        let (at, tz) = match *self {
            Schedule::Daily { at, tz } | Schedule::Weekly { at, tz, .. } => (at, tz),
            _ => unreachable!("handled above"),
        };
        let date = last.with_timezone(&tz).date_naive() + chrono::Days::new(step);
        let mut next = wall(tz, date, at);
        if next <= t {
            next = wall(tz, date + chrono::Days::new(step), at);
        }
        Some(next)
    }
}

/// `at` on `date` in `tz`, as UTC: the earlier instant when ambiguous, an
/// hour later when the wall time does not exist.
fn wall(tz: Tz, date: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(at);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc),
        LocalResult::None => {
            let later = local + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&local))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn check(schedule: &str, at: &str, last: &str, next: &str) {
        let s: Schedule = schedule.parse().unwrap();
        assert_eq!(
            s.last_boundary(utc(at)).unwrap(),
            utc(last),
            "last boundary of {schedule} at {at}"
        );
        assert_eq!(
            s.next_boundary(utc(at)).unwrap(),
            utc(next),
            "next boundary of {schedule} at {at}"
        );
    }

    #[test]
    fn boundaries() {
        check(
            "hourly",
            "2017-09-25T10:20:00Z",
            "2017-09-25T10:00:00Z",
            "2017-09-25T11:00:00Z",
        );
        check(
            "hourly",
            "2017-09-25T10:00:00Z",
            "2017-09-25T10:00:00Z",
            "2017-09-25T11:00:00Z",
        );
        check(
            "every 30m",
            "2017-09-25T10:31:00Z",
            "2017-09-25T10:30:00Z",
            "2017-09-25T11:00:00Z",
        );
        // 08:00 in Baghdad is 05:00 UTC.
        check(
            "daily 08:00 Asia/Baghdad",
            "2017-09-25T04:59:00Z",
            "2017-09-24T05:00:00Z",
            "2017-09-25T05:00:00Z",
        );
        check(
            "daily 08:00 Asia/Baghdad",
            "2017-09-25T05:00:00Z",
            "2017-09-25T05:00:00Z",
            "2017-09-26T05:00:00Z",
        );
        check(
            "daily 08:00",
            "2017-09-25T09:00:00Z",
            "2017-09-25T08:00:00Z",
            "2017-09-26T08:00:00Z",
        );
        // 2017-09-25 was a Monday.
        check(
            "weekly mon 08:00 Europe/Istanbul",
            "2017-09-27T12:00:00Z",
            "2017-09-25T05:00:00Z",
            "2017-10-02T05:00:00Z",
        );
        check(
            "weekly mon 08:00 Europe/Istanbul",
            "2017-09-25T04:00:00Z",
            "2017-09-18T05:00:00Z",
            "2017-09-25T05:00:00Z",
        );
    }

    #[test]
    fn daylight_saving_changes_keep_wall_time() {
        // Berlin: 2026-03-29 02:00 → 03:00 (02:30 does not exist), 2026-10-25 03:00 → 02:00.
        check(
            "daily 08:00 Europe/Berlin",
            "2026-03-28T12:00:00Z",
            "2026-03-28T07:00:00Z",
            "2026-03-29T06:00:00Z",
        );
        check(
            "daily 02:30 Europe/Berlin",
            "2026-03-29T03:00:00Z",
            "2026-03-29T01:30:00Z",
            "2026-03-30T00:30:00Z",
        );
        check(
            "daily 02:30 Europe/Berlin",
            "2026-10-25T02:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        );
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!(
            "immediate".parse::<Schedule>().unwrap().to_string(),
            "immediate 1m"
        );
        assert_eq!(
            "immediate 30s".parse::<Schedule>().unwrap().to_string(),
            "immediate 30s"
        );
        assert_eq!(
            "weekly fri 17:30 UTC".parse::<Schedule>().unwrap().to_string(),
            "weekly Fri 17:30 UTC"
        );
        for bad in [
            "",
            "daily",
            "daily 25:00",
            "every 10s",
            "weekly 08:00",
            "monthly",
            "daily 08:00 Mars/Olympus",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad:?} should be rejected");
        }
        assert!("daily 08:00 Mars/Olympus"
            .parse::<Schedule>()
            .unwrap_err()
            .to_string()
            .contains("unknown time zone Mars/Olympus"));
    }
}
