//! The last hour's throughput as an inline SVG bar chart, drawn on the
//! server: one bar a minute, succeeded under failed. Colours come from the
//! style sheet (classes `ok` and `bad`), since the page allows no inline style.

use maud::{Markup, html};
use mixdown_jobs::{db::MinuteOutcomes, time::Timestamp};

/// Minutes the chart shows.
pub(super) const MINUTES: usize = 60;
const WIDTH: usize = 600;
const HEIGHT: usize = 120;
const BAR: usize = WIDTH / MINUTES;

/// Succeeded and failed jobs in each of the `MINUTES` minutes up to `now`,
/// every queue together, oldest first.
pub(super) fn per_minute(outcomes: &[MinuteOutcomes], now: Timestamp) -> Vec<(u64, u64)> {
    let this_minute = now.millis() / 60_000;
    let mut bars = vec![(0, 0); MINUTES];
    for o in outcomes {
        let back = this_minute - o.minute.millis() / 60_000;
        if let Ok(back) = usize::try_from(back)
            && back < MINUTES
        {
            let bar = &mut bars[MINUTES - 1 - back];
            bar.0 += o.succeeded;
            bar.1 += o.failed;
        }
    }
    bars
}

/// The chart of `bars` (as [`per_minute`] makes them).
pub(super) fn throughput(bars: &[(u64, u64)]) -> Markup {
    let top = bars.iter().map(|(s, f)| s + f).max().unwrap_or(0).max(1);
    let scale = |n: u64| (n as usize * HEIGHT).div_ceil(top as usize);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 14) } role="img"
            aria-label="Jobs ended per minute, last hour" {
            @for (i, (succeeded, failed)) in bars.iter().enumerate() {
                @let ok = scale(*succeeded);
                @let bad = scale(*failed);
                @let x = i * BAR;
                g {
                    title { (MINUTES - 1 - i) " min ago: " (succeeded) " succeeded, " (failed) " failed" }
                    rect.ok x=(x) y=(HEIGHT - ok) width=(BAR - 1) height=(ok) {}
                    rect.bad x=(x) y=(HEIGHT - ok - bad) width=(BAR - 1) height=(bad) {}
                }
            }
            text x="0" y=(HEIGHT + 12) { "−60 min" }
            text.end x=(WIDTH) y=(HEIGHT + 12) { "now · peak " (top) "/min" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(ago: i64, succeeded: u64, failed: u64) -> MinuteOutcomes {
        MinuteOutcomes {
            queue: "noop".into(),
            minute: Timestamp::from_millis((1000 - ago) * 60_000),
            succeeded,
            failed,
        }
    }

    #[test]
    fn minutes_land_in_their_bar_and_queues_add_up() {
        let now = Timestamp::from_millis(1000 * 60_000 + 5_000);
        let bars = per_minute(&[minute(0, 3, 1), minute(0, 2, 0), minute(59, 7, 0)], now);
        assert_eq!(bars.len(), MINUTES);
        assert_eq!(bars[MINUTES - 1], (5, 1));
        assert_eq!(bars[0], (7, 0));
    }

    #[test]
    fn minutes_outside_the_hour_are_left_out() {
        let now = Timestamp::from_millis(1000 * 60_000);
        let bars = per_minute(&[minute(60, 9, 9), minute(-1, 9, 9)], now);
        assert!(bars.iter().all(|b| *b == (0, 0)));
    }
}
