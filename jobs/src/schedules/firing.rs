//! What a due tick does. A tick the fleet meets within the grace of its
//! instant is on time and makes its job; one met later was missed (the
//! fleet was down, or the schedule paused), and missed ticks make no job
//! (`skip`) or one, carrying the latest of them (`once`).

use std::{fmt, time::Duration};

use super::Recurrence;
use crate::time::Timestamp;

/// What a schedule does about ticks it missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// Missed ticks make no job; the schedule goes on at its next tick.
    #[default]
    Skip,
    /// Missed ticks make one job, for the latest of them.
    Once,
}

impl CatchUp {
    /// Both, in the order the API lists them.
    pub const ALL: [CatchUp; 2] = [CatchUp::Skip, CatchUp::Once];

    /// The name as sent and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::Once => "once",
        }
    }

    /// The value named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a due schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The tick a job is made for, if any.
    pub fire: Option<Timestamp>,
    /// The schedule's next tick after this step.
    pub next: Timestamp,
}

/// The step of a schedule whose next tick, `tick`, is due at `now`; `None`
/// when the rule has no tick after it (beyond croner's year 5000).
pub fn step(
    rule: &Recurrence,
    catch_up: CatchUp,
    tick: Timestamp,
    now: Timestamp,
    grace: Duration,
) -> Option<Step> {
    let cutoff = now.minus(grace);
    if tick >= cutoff {
        let next = rule.next_after(tick)?;
        return Some(Step {
            fire: Some(tick),
            next,
        });
    }
    // Every tick before the cutoff is missed; the ones after it, still
    // on time, are the steps that follow.
    let last_missed = rule.last_before(cutoff).map_or(tick, |t| t.max(tick));
    let fire = match catch_up {
        CatchUp::Skip => None,
        CatchUp::Once => Some(last_missed),
    };
    let next = rule.next_after(last_missed)?;
    Some(Step { fire, next })
}

/// The next tick of a schedule resumed at `now` whose first tick not yet
/// fired is `pending`: the first tick after `now` (`skip`), or the latest
/// tick missed while paused, so that it makes one job (`once`).
pub fn resumed(
    rule: &Recurrence,
    catch_up: CatchUp,
    pending: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    match catch_up {
        CatchUp::Skip => rule.next_after(now),
        CatchUp::Once if pending > now => Some(pending),
        CatchUp::Once => rule.last_before(now.plus(Duration::from_millis(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn every_ten_minutes() -> Recurrence {
        Recurrence::parse("*/10 * * * *", "UTC").unwrap()
    }

    fn at(minutes: i64) -> Timestamp {
        // 2026-01-01T00:00:00Z, a tick of every rule here.
        Timestamp::from_millis(1_767_225_600_000 + minutes * 60_000)
    }

    #[test]
    fn a_tick_met_within_the_grace_fires_and_the_next_follows_it() {
        let rule = every_ten_minutes();
        for catch_up in CatchUp::ALL {
            let step = step(&rule, catch_up, at(10), at(10).plus(MINUTE), MINUTE).unwrap();
            let expected = Step {
                fire: Some(at(10)),
                next: at(20),
            };
            assert_eq!(step, expected, "{catch_up}");
        }
    }

    #[test]
    fn ticks_missed_over_a_stop_are_skipped_or_make_one_job_for_the_latest() {
        let rule = every_ten_minutes();
        let now = at(25);
        let skipped = step(&rule, CatchUp::Skip, at(10), now, MINUTE).unwrap();
        let expected = Step {
            fire: None,
            next: at(30),
        };
        assert_eq!(skipped, expected);
        let once = step(&rule, CatchUp::Once, at(10), now, MINUTE).unwrap();
        let expected = Step {
            fire: Some(at(20)),
            next: at(30),
        };
        assert_eq!(once, expected);
    }

    #[test]
    fn after_missed_ticks_one_still_within_the_grace_fires_on_its_own() {
        let rule = every_ten_minutes();
        let now = at(20).plus(Duration::from_secs(30));
        let first = step(&rule, CatchUp::Skip, at(0), now, MINUTE).unwrap();
        assert_eq!((first.fire, first.next), (None, at(20)));
        let second = step(&rule, CatchUp::Skip, first.next, now, MINUTE).unwrap();
        assert_eq!((second.fire, second.next), (Some(at(20)), at(30)));
    }

    #[test]
    fn a_resumed_schedule_skips_what_it_missed_unless_it_catches_up_once() {
        let rule = every_ten_minutes();
        let now = at(35);
        assert_eq!(resumed(&rule, CatchUp::Skip, at(10), now), Some(at(40)));
        assert_eq!(resumed(&rule, CatchUp::Once, at(10), now), Some(at(30)));
        assert_eq!(resumed(&rule, CatchUp::Once, at(40), now), Some(at(40)));
        assert_eq!(resumed(&rule, CatchUp::Once, at(30), at(30)), Some(at(30)));
    }
}
