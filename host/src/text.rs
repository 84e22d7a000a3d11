//! Text for people to read: the one sanitiser every string from outside credbox goes through
//! before it reaches a terminal, and the small formatting helpers every layer shares (one line of
//! a message, hex, instants, durations). A leaf: it imports nothing of the crate.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is: a control character (C0, DEL, C1: ESC starts
/// the sequences that move the cursor, rewrite the title or the clipboard; BEL rings) or a
/// bidirectional override, which makes text display in another order than it reads (Trojan
/// Source).
pub fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character that could act on a terminal shown as an escape (`\u{1b}`), so
/// that what a profile file, a helper, a plugin or STS said is displayed, never obeyed. Text
/// without such characters comes back borrowed. Newlines and tabs are escaped too: a message is
/// one line.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unprintable) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unprintable(c) {
            let _ = write!(shown, "\\u{{{:x}}}", c as u32);
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// Whether `text` holds a character [`printable`] would escape.
pub fn has_unprintable(text: &str) -> bool {
    text.chars().any(unprintable)
}

/// Text from a helper or a plugin as one line of a message: whitespace runs become one space,
/// control characters go, and more than 300 characters are cut with `…`.
pub fn one_line(text: &str) -> String {
    // Only the start is kept, so only the start is looked at: a hostile message of many megabytes
    // costs no more than a short one.
    let start = text
        .char_indices()
        .nth(4096)
        .map_or(text, |(end, _)| &text[..end]);
    let words = start.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = words.chars().filter(|&c| !unprintable(c));
    let mut line: String = chars.by_ref().take(300).collect();
    if chars.next().is_some() {
        line.push('…');
    }
    line
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    text
}

/// Seconds since the epoch as RFC 3339 UTC with `Z`, as credbox prints expirations.
pub fn format_time(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// A span of time at a glance: `2h 5m`, `44m`, `30s`.
pub fn format_span(seconds: i64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours >= 48 {
        return format!("{}d {}h", hours / 24, hours % 24);
    }
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// Seconds since the Unix epoch, by the system clock.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A duration as people write it: `60 s`, `1.5 s`, `250 ms`.
pub fn format_duration(duration: std::time::Duration) -> String {
    match duration.as_millis() {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        ms => format!("{:.1} s", ms as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_could_act_on_a_terminal_is_shown_not_obeyed() {
        assert!(matches!(printable("arn:aws:iam::1:role/R"), Cow::Borrowed(_)));
        for (hostile, shown) in [
            ("role\x1b]0;pwned\x07", r"role\u{1b}]0;pwned\u{7}"),
            ("a\nb\tc\r", r"a\u{a}b\u{9}c\u{d}"),
            ("\u{9b}31m", r"\u{9b}31m"),
            ("x\u{202E}gnp.exe", r"x\u{202e}gnp.exe"),
            ("del\x7f", r"del\u{7f}"),
        ] {
            assert_eq!(printable(hostile), shown);
            assert!(has_unprintable(hostile));
            assert!(!has_unprintable(&printable(hostile)));
        }
    }

    #[test]
    fn one_line_looks_at_the_start_only() {
        let long = "word ".repeat(1 << 20);
        let line = one_line(&long);
        assert!(
            line.chars().count() <= 301 && line.ends_with('…'),
            "{}",
            line.len()
        );
        assert_eq!(one_line("a\x1b[2Jb \u{202E}c\n"), "a[2Jb c");
    }

    #[test]
    fn durations_and_instants_read_as_people_write_them() {
        use std::time::Duration;
        assert_eq!(format_duration(Duration::from_secs(60)), "60 s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(hex(&[0, 0xab]), "00ab");
        assert_eq!(
            [30, 2700, 3600, 7500, 200_000].map(format_span),
            ["30s", "45m", "1h", "2h 5m", "2d 7h"]
        );
    }
}
