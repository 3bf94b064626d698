//! `date_time`, from one `date` call; UTC forms are computed from the epoch.

use serde_json::{Map, json};
use tend_modules::date::civil_from_days;

use super::FactsError;
use super::raw::{Raw, malformed};
use crate::vars::Vars;

/// Number of `|`-separated fields the script's `date` format prints.
const FIELDS: usize = 13;

/// Inserts `date_time` (all values strings, as in Ansible). An empty map if
/// `date` printed nothing.
pub(super) fn date_time(raw: &Raw<'_>, facts: &mut Vars) -> Result<(), FactsError> {
    let mut dt = Map::new();
    let Some(line) = raw
        .section("date")
        .first()
        .filter(|l| !l.text.trim().is_empty())
    else {
        facts.insert("date_time".into(), json!(dt));
        return Ok(());
    };
    // %Y|%m|%d|%H|%M|%S|%s|%N|%z|%Z|%A|%w|%W
    let f: Vec<&str> = line.text.trim().split('|').collect();
    if f.len() != FIELDS {
        return Err(malformed(
            line,
            "date",
            format!("expected {FIELDS} `|`-separated fields, got {}", f.len()),
        ));
    }
    let num = |i: usize, width: usize| -> Result<i64, FactsError> {
        let s = f[i];
        if s.len() != width || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(
                line,
                "date",
                format!("field {} (`{s}`) is not a {width}-digit number", i + 1),
            ));
        }
        Ok(s.parse().unwrap_or_default())
    };
    let (year, month, day) = (num(0, 4)?, num(1, 2)?, num(2, 2)?);
    let (hour, minute, second) = (num(3, 2)?, num(4, 2)?, num(5, 2)?);
    let offset = parse_offset(f[8]);
    let epoch = f[6].parse::<i64>().ok().unwrap_or_else(|| {
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
            - offset.unwrap_or(0)
    });
    let micro = if f[7].len() == 9 && f[7].bytes().all(|b| b.is_ascii_digit()) {
        &f[7][..6]
    } else {
        "000000"
    };
    let (uy, um, ud) = civil_from_days(epoch.div_euclid(86_400));
    let secs = epoch.rem_euclid(86_400);
    let (uh, umin, us) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let utc = format!("{uy:04}-{um:02}-{ud:02}T{uh:02}:{umin:02}:{us:02}");
    let (y, m, d, hh, mm, ss) = (f[0], f[1], f[2], f[3], f[4], f[5]);
    let tz = f[9];

    for (key, value) in [
        ("year", y.to_owned()),
        ("month", m.to_owned()),
        ("weekday", f[10].to_owned()),
        ("weekday_number", f[11].to_owned()),
        ("weeknumber", f[12].to_owned()),
        ("day", d.to_owned()),
        ("hour", hh.to_owned()),
        ("minute", mm.to_owned()),
        ("second", ss.to_owned()),
        ("epoch", epoch.to_string()),
        ("epoch_int", epoch.to_string()),
        ("date", format!("{y}-{m}-{d}")),
        ("time", format!("{hh}:{mm}:{ss}")),
        ("iso8601_micro", format!("{utc}.{micro}Z")),
        ("iso8601", format!("{utc}Z")),
        ("iso8601_basic", format!("{y}{m}{d}T{hh}{mm}{ss}{micro}")),
        ("iso8601_basic_short", format!("{y}{m}{d}T{hh}{mm}{ss}")),
        ("tz", tz.to_owned()),
    ] {
        dt.insert(key.into(), json!(value));
    }
    let dst = raw
        .first("tzrule")
        .and_then(dst_name)
        .or_else(|| (tz == "UTC").then(|| "UTC".to_owned()));
    if let Some(dst) = dst {
        dt.insert("tz_dst".into(), json!(dst));
    }
    dt.insert("tz_offset".into(), json!(f[8]));
    facts.insert("date_time".into(), json!(dt));
    Ok(())
}

/// `+HHMM` / `-HHMM` → seconds east of UTC.
fn parse_offset(z: &str) -> Option<i64> {
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    Some(sign * (h * 3600 + m * 60))
}

/// Python's `time.tzname[1]` from a POSIX TZ rule (`CET-1CEST,M3.5.0,...`,
/// `<+03>-3`, `UTC0`): the DST name, or the standard name if there is none.
fn dst_name(rule: &str) -> Option<String> {
    if !rule.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    let (std, rest) = tz_name(rule)?;
    let rest =
        rest.trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | ':'));
    Some(tz_name(rest).map_or(std, |(dst, _)| dst))
}

/// A TZ name at the start of `s` (`<...>` quoted or 3+ letters) and the rest.
fn tz_name(s: &str) -> Option<(String, &str)> {
    if let Some(quoted) = s.strip_prefix('<') {
        let (name, rest) = quoted.split_once('>')?;
        return Some((name.to_owned(), rest));
    }
    let len = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    (len >= 3).then(|| (s[..len].to_owned(), &s[len..]))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 11_016, 19_000, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn tz_rules() {
        assert_eq!(
            dst_name("CET-1CEST,M3.5.0,M10.5.0/3").as_deref(),
            Some("CEST")
        );
        assert_eq!(dst_name("EST5EDT,M3.2.0,M11.1.0").as_deref(), Some("EDT"));
        assert_eq!(dst_name("UTC0").as_deref(), Some("UTC"));
        assert_eq!(dst_name("<+03>-3").as_deref(), Some("+03"));
        assert_eq!(dst_name("IST-5:30").as_deref(), Some("IST"));
        assert_eq!(dst_name("\u{1}\u{2}junk"), None);
        assert_eq!(parse_offset("+0530"), Some(19_800));
        assert_eq!(parse_offset("-0800"), Some(-28_800));
        assert_eq!(parse_offset("%z"), None);
    }
}
