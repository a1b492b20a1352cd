use super::*;

/// The instant of RFC 3339 `text`.
fn t(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// The ticks of `rule` after `from`, `n` of them, as RFC 3339 in UTC.
fn ticks(rule: &Recurrence, from: &str, n: usize) -> Vec<String> {
    let mut at = t(from);
    (0..n)
        .map(|_| {
            at = rule.next_after(at).unwrap();
            at.to_rfc3339()
        })
        .collect()
}

fn berlin(expression: &str) -> Recurrence {
    Recurrence::parse(expression, "Europe/Berlin").unwrap()
}

#[test]
fn five_fields_tick_on_minutes_and_six_on_seconds() {
    let minutes = Recurrence::parse("*/5 * * * *", "UTC").unwrap();
    let from = "2026-05-01T10:02:30.250Z";
    let expected = ["2026-05-01T10:05:00Z", "2026-05-01T10:10:00Z"];
    assert_eq!(ticks(&minutes, from, 2), expected);
    let seconds = Recurrence::parse("*/2 * * * * *", "UTC").unwrap();
    let expected = ["2026-05-01T10:02:32Z", "2026-05-01T10:02:34Z"];
    assert_eq!(ticks(&seconds, from, 2), expected);
}

#[test]
fn a_tick_is_strictly_after_and_strictly_before() {
    let rule = Recurrence::parse("*/2 * * * * *", "UTC").unwrap();
    let tick = t("2026-05-01T10:00:02Z");
    assert_eq!(rule.next_after(tick), Some(t("2026-05-01T10:00:04Z")));
    assert_eq!(rule.last_before(tick), Some(t("2026-05-01T10:00:00Z")));
    let just_after = t("2026-05-01T10:00:02.001Z");
    assert_eq!(rule.last_before(just_after), Some(tick));
}

#[test]
fn rules_are_read_in_their_zone() {
    // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    let rule = berlin("0 9 * * *");
    assert_eq!(
        ticks(&rule, "2026-01-15T12:00:00Z", 1),
        ["2026-01-16T08:00:00Z"]
    );
    assert_eq!(
        ticks(&rule, "2026-07-15T12:00:00Z", 1),
        ["2026-07-16T07:00:00Z"]
    );
}

#[test]
fn a_fixed_time_skipped_by_the_spring_change_fires_right_after_the_gap() {
    // Berlin, 29 March 2026: at 02:00 CET the clocks go to 03:00 CEST.
    let rule = berlin("30 2 * * *");
    let expected = [
        "2026-03-28T01:30:00Z", // 02:30 CET
        "2026-03-29T01:00:00Z", // 03:00 CEST, the first instant after the gap
        "2026-03-30T00:30:00Z", // 02:30 CEST
    ];
    assert_eq!(ticks(&rule, "2026-03-27T12:00:00Z", 3), expected);
}

#[test]
fn a_fixed_time_repeated_by_the_autumn_change_fires_once() {
    // Berlin, 25 October 2026: at 03:00 CEST the clocks go back to 02:00 CET,
    // so 02:30 happens at 00:30 and at 01:30 UTC.
    let rule = berlin("30 2 * * *");
    let expected = [
        "2026-10-24T00:30:00Z", // 02:30 CEST
        "2026-10-25T00:30:00Z", // 02:30 CEST, the first of the two
        "2026-10-26T01:30:00Z", // 02:30 CET, the next day
    ];
    assert_eq!(ticks(&rule, "2026-10-23T12:00:00Z", 3), expected);
}

#[test]
fn an_interval_fires_at_no_skipped_time_and_at_each_repeated_one() {
    let rule = berlin("0 */30 * * * *");
    let spring = [
        "2026-03-29T00:30:00Z", // 01:30 CET
        "2026-03-29T01:00:00Z", // 03:00 CEST: 02:00 and 02:30 do not exist
        "2026-03-29T01:30:00Z", // 03:30 CEST
    ];
    assert_eq!(ticks(&rule, "2026-03-29T00:00:00Z", 3), spring);
    let autumn = [
        "2026-10-25T00:00:00Z", // 02:00 CEST
        "2026-10-25T00:30:00Z", // 02:30 CEST
        "2026-10-25T01:00:00Z", // 02:00 CET
        "2026-10-25T01:30:00Z", // 02:30 CET
        "2026-10-25T02:00:00Z", // 03:00 CET
    ];
    assert_eq!(ticks(&rule, "2026-10-24T23:30:00Z", 5), autumn);
    for pair in autumn.windows(2) {
        assert_eq!(rule.last_before(t(pair[1])), Some(t(pair[0])));
    }
}

#[test]
fn bad_expressions_and_zones_are_refused_by_kind() {
    for bad in [
        "",
        "* * *",
        "0 0 0 1 1 * 2030",
        "61 * * * *",
        "* * * * * * * *",
        "0 0 31 2 *",
        "often",
    ] {
        let err = Recurrence::parse(bad, "UTC").unwrap_err();
        assert!(matches!(err, RecurrenceError::Cron(_)), "{bad:?}: {err:?}");
    }
    for bad in ["", "Mars/Olympus", "Europe/Berlin ", "+02:00"] {
        let err = Recurrence::parse("* * * * *", bad).unwrap_err();
        assert_eq!(err, RecurrenceError::Zone(bad.into()));
    }
}

#[test]
fn a_rule_keeps_its_text_and_zone_name() {
    let rule = Recurrence::parse("  0 */5 * * * *  ", "Europe/Berlin").unwrap();
    assert_eq!(
        (rule.expression(), rule.zone()),
        ("0 */5 * * * *", "Europe/Berlin")
    );
    assert_eq!(
        Recurrence::parse("@hourly", "UTC").unwrap().expression(),
        "@hourly"
    );
}
