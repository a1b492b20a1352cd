//! Job kinds, their queues, and their defaults of attempts and time.

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

/// What a job does; each kind has its own queue so it can be scaled alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Sleeps, then fails its first N attempts: checks a fleet end to end.
    Noop,
    /// Makes a user's voiceprint from uploaded samples.
    VoiceEnroll,
    /// Scores an uploaded sample against a user's voiceprint.
    VoiceVerify,
    /// Proves an uploaded original is audio and describes it.
    Ingest,
    /// Decodes a track once into every output of its presets, with loudness
    /// (the track workflow's step), or into renditions added to a ready track.
    Transcode,
    /// Writes a ready track's waveform as one file (data or image).
    Waveform,
    /// Analyses a ready track again (tempo, key, energy, fingerprint and duplicates).
    Analyze,
    /// A track's workflow: waits for its ingest and transcodes, decides what
    /// follows each, and stores the track's end (see `workflow::track`).
    Track,
    /// Reports a job's or a track's end to its callback URL.
    Callback,
    /// Spreads an activity to its actor's followers' feeds (or takes it
    /// out): plans chunks and sums what they did (see `social::fanout`).
    Fanout,
    /// Writes (or deletes) one range of followers' feed rows of a fan-out.
    FanoutChunk,
    /// Makes an HTTP request on a service's behalf (see `http`).
    Http,
}

impl JobKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [JobKind; 12] = [
        JobKind::Noop,
        JobKind::VoiceEnroll,
        JobKind::VoiceVerify,
        JobKind::Ingest,
        JobKind::Transcode,
        JobKind::Waveform,
        JobKind::Analyze,
        JobKind::Track,
        JobKind::Callback,
        JobKind::Fanout,
        JobKind::FanoutChunk,
        JobKind::Http,
    ];

    /// The kind named by `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The wire name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Noop => "noop",
            JobKind::VoiceEnroll => "voice_enroll",
            JobKind::VoiceVerify => "voice_verify",
            JobKind::Ingest => "ingest",
            JobKind::Transcode => "transcode",
            JobKind::Waveform => "waveform",
            JobKind::Analyze => "analyze",
            JobKind::Track => "track",
            JobKind::Callback => "callback",
            JobKind::Fanout => "fanout",
            JobKind::FanoutChunk => "fanout_chunk",
            JobKind::Http => "http",
        }
    }

    /// The queue the kind's jobs wait in. A fan-out's chunks share its
    /// queue, so whatever runs fan-outs runs their chunks.
    pub fn queue(self) -> &'static str {
        match self {
            JobKind::FanoutChunk => JobKind::Fanout.as_str(),
            kind => kind.as_str(),
        }
    }

    /// The queues of `kinds`, each once, in the order first named.
    pub fn queues_of(kinds: &[JobKind]) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for kind in kinds {
            if !names.contains(&kind.queue()) {
                names.push(kind.queue());
            }
        }
        names
    }

    /// Whether clients may submit this kind through `POST /v1/jobs`. Voice
    /// and track jobs name objects that only their own endpoints store; a
    /// `fanout` submitted there takes an activity and records it first; a
    /// `transcode` submitted there adds renditions to a ready track, a
    /// `waveform` draws one and an `analyze` analyses one again; an `http`
    /// job's secret headers are sealed first.
    pub fn submittable(self) -> bool {
        matches!(
            self,
            JobKind::Noop
                | JobKind::Fanout
                | JobKind::Transcode
                | JobKind::Waveform
                | JobKind::Analyze
                | JobKind::Http
        )
    }

    /// Whether the kind's handler needs the voice engine and the voiceprint key.
    pub fn is_voice(self) -> bool {
        matches!(self, JobKind::VoiceEnroll | JobKind::VoiceVerify)
    }

    /// How many attempts a job of this kind gets when the client does not say.
    /// Voice jobs fail for good on bad audio; more attempts only help when a
    /// store was briefly unreachable.
    pub fn default_max_attempts(self) -> u32 {
        match self {
            JobKind::Noop
            | JobKind::VoiceEnroll
            | JobKind::VoiceVerify
            | JobKind::Ingest
            | JobKind::Transcode
            | JobKind::Waveform
            | JobKind::Analyze
            | JobKind::Track
            | JobKind::Fanout => 3,
            // A chunk is one statement: more attempts ride out a database
            // failover.
            JobKind::FanoutChunk => 5,
            // With the default backoff (1 s doubling, capped at 10 min, jittered by
            // half) twelve attempts ride out 13 to 27 minutes of a receiver being down.
            JobKind::Callback => 12,
            // A request on a service's behalf: a receiver down for a minute or two.
            JobKind::Http => 5,
        }
    }

    /// How long one attempt may run, unless configured otherwise.
    pub fn default_timeout(self) -> Duration {
        match self {
            JobKind::Noop => Duration::from_secs(15 * 60),
            // Ten samples of a minute each embed in well under a minute.
            JobKind::VoiceEnroll => Duration::from_secs(120),
            // Verification is interactive: a stuck attempt should give way fast.
            JobKind::VoiceVerify => Duration::from_secs(30),
            // Reading tags and hashing a 2 GB original takes well under a minute.
            JobKind::Ingest => Duration::from_secs(10 * 60),
            // A 4-hour original runs at tens of times real time.
            JobKind::Transcode => Duration::from_secs(2 * 60 * 60),
            // One decode of a 4-hour original, with no encoder.
            JobKind::Waveform => Duration::from_secs(30 * 60),
            // One decode of a 4-hour original with the analysis alone.
            JobKind::Analyze => Duration::from_secs(30 * 60),
            // A few reads and one write per step.
            JobKind::Track => Duration::from_secs(60),
            // One POST with its own shorter timeout.
            JobKind::Callback => Duration::from_secs(60),
            // Planning pages every follower: ten million take a few minutes.
            JobKind::Fanout => Duration::from_secs(10 * 60),
            // One statement over a few thousand rows.
            JobKind::FanoutChunk => Duration::from_secs(5 * 60),
            // One request of at most a minute (its payload's timeout), and a margin.
            JobKind::Http => Duration::from_secs(90),
        }
    }
}

/// Attempt time limits per kind: each kind's default unless configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timeouts(HashMap<JobKind, Duration>);

impl Timeouts {
    /// How long one attempt of `kind` may run before it is stopped.
    pub fn of(&self, kind: JobKind) -> Duration {
        self.0
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_timeout())
    }
}

impl FromStr for Timeouts {
    type Err = String;

    /// Parses `kind=duration` pairs separated by commas, e.g.
    /// `noop=30s,transcode=2h`; units are ms, s, m and h.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut map = HashMap::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not kind=duration"))?;
            let kind = JobKind::parse(name.trim())
                .ok_or_else(|| format!("unknown job kind {:?}", name.trim()))?;
            map.insert(kind, parse_duration(value.trim())?);
        }
        Ok(Self(map))
    }
}

impl fmt::Display for Timeouts {
    /// The overrides as they parse back, in the order of the kinds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overrides: Vec<String> = JobKind::ALL
            .iter()
            .filter_map(|k| self.0.get(k).map(|d| format!("{k}={}ms", d.as_millis())))
            .collect();
        f.write_str(&overrides.join(","))
    }
}

impl mixdown_settings::Value for Timeouts {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
    }

    fn show(&self) -> String {
        self.to_string()
    }
}

/// Parses `1500ms`, `30s`, `10m` or `2h`; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (ms, s, m or h)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("{text:?} has an unknown unit (ms, s, m or h)")),
    };
    match millis {
        Some(0) => Err(format!("{text:?} must be longer than zero")),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Err(format!("{text:?} is too long")),
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_default_per_kind_and_parse_overrides() {
        assert_eq!(
            Timeouts::default().of(JobKind::Noop),
            JobKind::Noop.default_timeout()
        );
        let t: Timeouts = "noop=1500ms".parse().unwrap();
        assert_eq!(t.of(JobKind::Noop), Duration::from_millis(1500));
        for bad in [
            "noop",
            "nope=1s",
            "noop=5",
            "noop=0s",
            "noop=1d",
            "noop=99999999999999h",
        ] {
            assert!(bad.parse::<Timeouts>().is_err(), "{bad}");
        }
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }
}
