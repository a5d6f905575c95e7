//! Maintenance windows: the local days and hours in which a cluster's pairs may change.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A window: from `start` to `end` (local time of `timeZone`) on each of `days`. `end` before
/// `start` spans midnight (the day is the day it starts); `end` equal to `start` is the whole
/// day.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    /// The local days it opens on (default: every day).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Day>,
    pub start: ClockTime,
    pub end: ClockTime,
    /// An IANA time zone name (`Europe/Paris`), or a template over the cluster giving one, like
    /// `"{{ cluster.annotations['fleeet.dev/time-zone'] }}"` (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<ZoneName>,
}

/// A day of the week, as in `Mon`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Monday,
            Day::Tue => Weekday::Tuesday,
            Day::Wed => Weekday::Wednesday,
            Day::Thu => Weekday::Thursday,
            Day::Fri => Weekday::Friday,
            Day::Sat => Weekday::Saturday,
            Day::Sun => Weekday::Sunday,
        }
    }
}

/// A local time of day written `HH:MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub Time);

impl ClockTime {
    /// Parses `HH:MM` (00:00 to 23:59).
    pub fn parse(text: &str) -> Result<ClockTime, String> {
        let err = || format!("invalid time {text:?}: expected HH:MM from 00:00 to 23:59");
        let (h, m) = text.split_once(':').ok_or_else(err)?;
        if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let (h, m): (i8, i8) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
        Time::new(h, m, 0, 0).map(ClockTime).map_err(|_| err())
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ClockTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for ClockTime {
    fn schema_name() -> Cow<'static, str> {
        "ClockTime".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "description": "A local time of day, HH:MM."
        })
    }
}

/// A time zone as written: an IANA name checked against the bundled database when loaded, or
/// a template rendered per cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneName(pub String);

impl ZoneName {
    /// Checks a name (templates are checked per cluster when planning).
    pub fn parse(text: &str) -> Result<ZoneName, String> {
        if !crate::template::is_template(text) {
            zone(text)?;
        }
        Ok(ZoneName(text.to_string()))
    }
}

/// The time zone named `name` in the bundled IANA database (the same on every machine).
pub fn zone(name: &str) -> Result<TimeZone, String> {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
        .get(name)
        .map_err(|_| {
            format!("unknown time zone {name:?}: expected an IANA name like \"Europe/Paris\"")
        })
}

impl<'de> Deserialize<'de> for ZoneName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ZoneName::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ZoneName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl JsonSchema for ZoneName {
    fn schema_name() -> Cow<'static, str> {
        "ZoneName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An IANA time zone name, or a template over the cluster giving one."
        })
    }
}

impl Window {
    /// Whether `now` is inside this window in `tz`.
    pub fn contains(&self, tz: &TimeZone, now: Timestamp) -> bool {
        let local = now.to_zoned(tz.clone());
        let (date, time) = (local.date(), local.time());
        let (start, end) = (self.start.0, self.end.0);
        if start < end {
            self.opens_on(date) && start <= time && time < end
        } else {
            (self.opens_on(date) && start <= time)
                || (date.yesterday().is_ok_and(|d| self.opens_on(d)) && time < end)
        }
    }

    /// When this window next opens in `tz` after `now` (within the coming eight days).
    pub fn next_opening(&self, tz: &TimeZone, now: Timestamp) -> Option<Timestamp> {
        let today = now.to_zoned(tz.clone()).date();
        (0..8)
            .filter_map(|d| today.checked_add(jiff::Span::new().days(d)).ok())
            .filter(|date| self.opens_on(*date))
            .filter_map(|date| date.to_datetime(self.start.0).to_zoned(tz.clone()).ok())
            .map(|zoned| zoned.timestamp())
            .find(|opening| *opening > now)
    }

    fn opens_on(&self, date: Date) -> bool {
        self.days.is_empty() || self.days.iter().any(|d| d.weekday() == date.weekday())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(yaml: &str) -> Window {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_window_holds_local_times_on_its_days() {
        let w =
            window("{days: [Mon, Tue], start: \"02:00\", end: \"05:00\", timeZone: Europe/Paris}");
        let paris = zone("Europe/Paris").unwrap();
        // 2026-11-23 is a Monday; Paris is UTC+1 in November.
        assert!(w.contains(&paris, at("2026-11-23T01:30:00Z")));
        assert!(!w.contains(&paris, at("2026-11-23T04:00:00Z")));
        assert!(!w.contains(&paris, at("2026-11-25T01:30:00Z")));
        assert_eq!(
            w.next_opening(&paris, at("2026-11-23T04:00:00Z")),
            Some(at("2026-11-24T01:00:00Z"))
        );
        assert_eq!(
            w.next_opening(&paris, at("2026-11-24T05:00:00Z")),
            Some(at("2026-11-30T01:00:00Z"))
        );
    }

    #[test]
    fn end_before_start_spans_midnight_from_its_day() {
        let w = window("{days: [Fri], start: \"22:00\", end: \"03:00\"}");
        let utc = zone("UTC").unwrap();
        // 2026-11-27 is a Friday.
        assert!(w.contains(&utc, at("2026-11-27T23:00:00Z")));
        assert!(w.contains(&utc, at("2026-11-28T02:59:00Z")));
        assert!(!w.contains(&utc, at("2026-11-28T03:00:00Z")));
        assert!(!w.contains(&utc, at("2026-11-28T23:00:00Z")));
        assert!(!w.contains(&utc, at("2026-11-27T02:00:00Z")));
    }

    #[test]
    fn bad_times_zones_and_days_are_refused() {
        for bad in ["24:00", "2:00", "02:60", "0200", "02:00:00", ""] {
            assert!(ClockTime::parse(bad).is_err(), "{bad}");
        }
        assert!(
            ZoneName::parse("Europe/Pariss")
                .unwrap_err()
                .contains("unknown time zone")
        );
        assert!(ZoneName::parse("{{ cluster.annotations.tz }}").is_ok());
        assert!(
            serde_saphyr::from_str::<Window>("{days: [Monday], start: \"01:00\", end: \"02:00\"}")
                .is_err()
        );
    }
}
