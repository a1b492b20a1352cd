//! Fits the score calibration and reports it on speakers held out of the fit.
//!
//! Speakers: the 10 of `../shared/testdata/voice` and the 54 of
//! `../shared/testdata/voice-calibration`, in the 5 folds that corpus's README
//! assigns (the 10 development speakers are dealt round-robin over the folds in
//! name order). Every speaker is enrolled as the engine enrolls: its first 3
//! files (name order), each with its noisy, reverberant and telephone copies
//! ([`VoiceEngine::condition_embeddings`]); its other files are genuine trials.
//! Every file is scored in seven conditions, made with other generators,
//! parameters and seeds than the enrollment copies:
//!
//! - `clean`;
//! - `pink 20 dB`: pink noise;
//! - `babble 10 dB`: six real talkers of another fold, summed;
//! - `telephone`: 300–3400 Hz, 8 kHz, through a real codec by ffmpeg (G.711
//!   μ-law for even-numbered files, GSM 06.10 for odd ones);
//! - `reverberant`: a stochastic room response, RT60 0.3–0.9 s, direct to
//!   reverberant ratio −3 to +3 dB;
//! - `level −20 dB`: 20 dB quieter, requantised to 16 bits;
//! - `short`: the middle 1.8 s of the recording (about 1–1.6 s of speech).
//!
//! Cross-validation: for each fold, the cohort (the four condition centroids
//! of every other fold's speakers), the logistic calibration and the threshold
//! are fitted on the other four folds' trials only — for a trial among them,
//! the cohort leaves out both of its speakers — and the fold's own trials
//! (its enrolled speakers against its own files) are scored with them. The
//! table pools the five held-out folds. The threshold is the least at which no
//! condition's false-accept rate on the fitting speakers exceeds 1 %.
//!
//! Embeddings are cached under `$XDG_CACHE_HOME/mixdown/voice-calibration`
//! (delete it after changing the gates, the encoder or the degradations).
//!
//!   cargo run --release -p mixdown-voice --example calibrate [-- --write]
//!
//! `--write` also fits on all 64 speakers and writes `voice/data/`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mixdown_voice::{
    CALIBRATION_WEIGHTS, Calibration, CalibrationParams, CohortStats, Condition, Embedding,
    EngineConfig, GateConfig, MODEL_VERSION, Quality, SpeechSample, VoiceEngine, add_at_snr,
    as_norm, centroids, closest_centroid, convolve, features, pink_noise, room_impulse_response,
};
use serde::{Deserialize, Serialize};

const CONDITIONS: [&str; 7] = [
    "clean",
    "pink 20 dB",
    "babble 10 dB",
    "telephone",
    "reverberant",
    "level -20 dB",
    "short",
];
const FOLDS: usize = 5;
const ENROLL_FILES: usize = 3;
/// Cohort scores per side that AS-norm averages.
const TOP_K: usize = 50;
/// Largest false-accept rate any condition may show on the fitting speakers.
const TARGET_FAR: f64 = 0.01;

struct Speaker {
    name: String,
    fold: usize,
    files: Vec<PathBuf>,
}

/// One file in one condition, as the engine saw it.
#[derive(Clone, Serialize, Deserialize)]
enum Probe {
    Scored {
        embedding: Embedding,
        quality: Quality,
    },
    Refused(String),
}

fn main() {
    let write = std::env::args().any(|a| a == "--write");
    let speakers = speakers();
    let engine = VoiceEngine::new(
        mixdown_voice::Encoder::load(&support::model_path()).expect("the model loads"),
        EngineConfig::default(),
    );
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).expect("cache directory");
    // probes[speaker][file][condition], embedded on as many threads as `CALIBRATE_THREADS` (2)
    let threads: usize = std::env::var("CALIBRATE_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let jobs: Vec<(usize, usize)> = speakers
        .iter()
        .enumerate()
        .flat_map(|(s, sp)| (0..sp.files.len()).map(move |f| (s, f)))
        .collect();
    let mut done: BTreeMap<(usize, usize), Vec<Probe>> = par_map(&jobs, threads, |&(s, f)| {
        probes_of(&engine, &cache, &speakers, s, f, &speakers[s].files[f])
    })
    .into_iter()
    .zip(&jobs)
    .map(|(p, j)| (*j, p))
    .collect();
    let probes: Vec<Vec<Vec<Probe>>> = speakers
        .iter()
        .enumerate()
        .map(|(s, sp)| {
            (0..sp.files.len())
                .map(|f| done.remove(&(s, f)).expect("embedded"))
                .collect()
        })
        .collect();
    let prints: Vec<Vec<mixdown_voice::Centroid>> =
        par_map(&speakers, threads, |sp| enroll(&engine, &cache, sp));
    let data = Data {
        speakers: &speakers,
        probes: &probes,
        prints: &prints,
        cosines: cohort_cosines(&probes, &prints),
    };
    let mut held_out: Vec<Trial> = Vec::new();
    for fold in 0..FOLDS {
        let fit = Fit::on(&data, &|s| speakers[s].fold != fold);
        eprintln!(
            "fold {fold}: threshold {:.3}, weights {:?}",
            fit.threshold,
            fit.weights
                .iter()
                .map(|w| (w * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>()
        );
        let test = |s: usize| speakers[s].fold == fold;
        let cohort = |s: usize| !test(s);
        held_out.extend(trials(&data, &test, &cohort).into_iter().map(|mut t| {
            if !t.cosine.is_nan() {
                t.llr = fit.llr(&t);
                t.accepted = t.llr >= fit.threshold;
            }
            t
        }));
    }
    report(&held_out);
    if write {
        let everyone = |_: usize| true;
        let fit = Fit::on(&data, &everyone);
        write_calibration(&fit, &prints);
    }
}

/// `f` over `items` on `threads` threads, results in order.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = (0..threads.max(1))
            .map(|t| {
                scope.spawn(move || {
                    (t..items.len())
                        .step_by(threads.max(1))
                        .map(|i| (i, f(&items[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("a worker thread") {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter()
        .map(|r| r.expect("every item mapped"))
        .collect()
}

fn speakers() -> Vec<Speaker> {
    let mut by_speaker: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let dev = support::speaker_files(&support::testdata());
    let more = support::speaker_files(&support::calibration_data());
    for (s, p) in dev.iter().chain(&more) {
        by_speaker.entry(s.clone()).or_default().push(p.clone());
    }
    let folds = calibration_folds(&support::calibration_data().join("README.md"));
    let dev_speakers: BTreeSet<&String> = dev.iter().map(|(s, _)| s).collect();
    by_speaker
        .into_iter()
        .map(|(name, files)| {
            let fold = match dev_speakers.iter().position(|s| **s == name) {
                Some(i) => i % FOLDS,
                None => *folds
                    .get(&name)
                    .unwrap_or_else(|| panic!("{name} has no fold in the README")),
            };
            Speaker { name, fold, files }
        })
        .collect()
}

/// The `fold` column of the calibration README's speaker table.
fn calibration_folds(readme: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(readme).expect("the calibration README");
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let fold = cells.get(cells.len().checked_sub(2)?)?.parse().ok()?;
            Some((name.to_string(), fold))
        })
        .collect()
}

fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"),
        PathBuf::from,
    );
    base.join("mixdown/voice-calibration").join(MODEL_VERSION)
}

fn cached<T: Serialize + for<'de> Deserialize<'de>>(path: &Path, make: impl FnOnce() -> T) -> T {
    if let Some(v) = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        return v;
    }
    let v = make();
    std::fs::write(path, serde_json::to_vec(&v).expect("serialises")).expect("cache write");
    v
}

fn stem(path: &Path) -> &str {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("a file name")
}

/// The probes of one file; the embeddings come from the cache when it has
/// them (the quality measures are always measured anew: they are cheap).
fn probes_of(
    engine: &VoiceEngine,
    cache: &Path,
    speakers: &[Speaker],
    s: usize,
    f: usize,
    path: &Path,
) -> Vec<Probe> {
    let (x, rate) = support::read_wav(path);
    assert_eq!(rate, 16_000, "the corpora are 16 kHz");
    let gated: Vec<Result<SpeechSample, String>> = (0..CONDITIONS.len())
        .map(|c| {
            let (y, r) = degrade(&x, c, speakers, s, f);
            SpeechSample::new(&y, r, &GateConfig::default()).map_err(|e| e.code().to_string())
        })
        .collect();
    let embedded = cached(&cache.join(format!("{}.probes.json", stem(path))), || {
        eprintln!("embedding {}", stem(path));
        gated
            .iter()
            .map(|g| match g {
                Err(code) => Probe::Refused(code.clone()),
                Ok(sample) => match engine.embed(sample) {
                    Ok(embedding) => Probe::Scored {
                        embedding,
                        quality: sample.quality(),
                    },
                    Err(e) => Probe::Refused(e.code().to_string()),
                },
            })
            .collect::<Vec<Probe>>()
    });
    embedded
        .into_iter()
        .zip(&gated)
        .map(|(probe, g)| match (probe, g) {
            (Probe::Scored { embedding, .. }, Ok(sample)) => Probe::Scored {
                embedding,
                quality: sample.quality(),
            },
            (probe, _) => probe,
        })
        .collect()
}

/// The print's centroids of a speaker, enrolled as the engine enrolls.
fn enroll(engine: &VoiceEngine, cache: &Path, sp: &Speaker) -> Vec<mixdown_voice::Centroid> {
    let embeddings = cached(&cache.join(format!("{}.enroll.json", sp.name)), || {
        let mut all = Vec::new();
        for (i, path) in sp.files[..ENROLL_FILES].iter().enumerate() {
            let (x, rate) = support::read_wav(path);
            let sample = SpeechSample::new(&x, rate, &GateConfig::default())
                .unwrap_or_else(|e| panic!("{}: {e}", stem(path)));
            all.push((Condition::Clean, engine.embed(&sample).expect("speech")));
            all.extend(engine.condition_embeddings(&sample, i as u64));
        }
        all
    });
    centroids(&embeddings)
}

/// File `f` of speaker `s` (samples `x`) in condition `c`, as (samples, rate).
fn degrade(x: &[f32], c: usize, speakers: &[Speaker], s: usize, f: usize) -> (Vec<f32>, u32) {
    let seed = (s * 100 + f) as u64;
    match CONDITIONS[c] {
        "clean" => (x.to_vec(), 16_000),
        "pink 20 dB" => (
            add_at_snr(x, &pink_noise(x.len(), 50_000 + seed), 20.0),
            16_000,
        ),
        "babble 10 dB" => (
            add_at_snr(x, &babble(x.len(), speakers, s, seed), 10.0),
            16_000,
        ),
        "telephone" => {
            let codec = if f.is_multiple_of(2) {
                support::Codec::MuLaw
            } else {
                support::Codec::Gsm
            };
            support::telephone_codec(x, 16_000, codec)
        }
        "reverberant" => {
            let unit =
                |k: u64| (mixdown_voice::uniform_noise(1, 70_000 + seed * 7 + k)[0] + 1.0) / 2.0;
            let rt60 = 0.3 + 0.6 * unit(1);
            let drr = -3.0 + 6.0 * unit(2);
            let h = room_impulse_response(rt60, drr, 60_000 + seed);
            (convolve(x, &h), 16_000)
        }
        "level -20 dB" => (
            x.iter()
                .map(|v| (v * 0.1 * 32_768.0).round() / 32_768.0)
                .collect(),
            16_000,
        ),
        "short" => {
            let len = (1.8 * 16_000.0) as usize;
            let start = x.len().saturating_sub(len) / 2;
            (x[start..(start + len).min(x.len())].to_vec(), 16_000)
        }
        other => unreachable!("{other}"),
    }
}

/// Six talkers of the next fold (not `s`'s own), summed.
fn babble(len: usize, speakers: &[Speaker], s: usize, seed: u64) -> Vec<f32> {
    let fold = (speakers[s].fold + 1) % FOLDS;
    let others: Vec<&Speaker> = speakers.iter().filter(|o| o.fold == fold).collect();
    let files: Vec<PathBuf> = (0..6)
        .map(|k| {
            let talker = others[(seed as usize + k * 5) % others.len()];
            talker.files[(seed as usize + k) % talker.files.len()].clone()
        })
        .collect();
    support::babble(&files, len, seed)
}

struct Data<'a> {
    speakers: &'a [Speaker],
    probes: &'a [Vec<Vec<Probe>>],
    prints: &'a [Vec<mixdown_voice::Centroid>],
    cosines: CohortCosines,
}

/// Cosines of every probe and every centroid to every speaker's centroids,
/// highest first, tagged with that speaker: a cohort of any set of speakers is
/// then a filter.
struct CohortCosines {
    /// [speaker][file][condition]
    probes: Vec<Vec<Vec<Ranked>>>,
    /// [speaker][centroid]
    centroids: Vec<Vec<Ranked>>,
}

/// Cosines to the cohort, highest first, each with the speaker of its centroid.
type Ranked = Vec<(f32, usize)>;

fn cohort_cosines(
    probes: &[Vec<Vec<Probe>>],
    prints: &[Vec<mixdown_voice::Centroid>],
) -> CohortCosines {
    let against = |e: &Embedding| {
        let mut v: Vec<(f32, usize)> = prints
            .iter()
            .enumerate()
            .flat_map(|(s, cs)| cs.iter().map(move |c| (c.embedding.cosine(e), s)))
            .collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        v
    };
    CohortCosines {
        probes: probes
            .iter()
            .map(|files| {
                files
                    .iter()
                    .map(|conds| {
                        conds
                            .iter()
                            .map(|p| match p {
                                Probe::Scored { embedding, .. } => against(embedding),
                                Probe::Refused(_) => Vec::new(),
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect(),
        centroids: prints
            .iter()
            .map(|cs| cs.iter().map(|c| against(&c.embedding)).collect())
            .collect(),
    }
}

fn stats(sorted: &[(f32, usize)], keep: &dyn Fn(usize) -> bool) -> CohortStats {
    let mut top: Vec<f32> = sorted
        .iter()
        .filter(|(_, s)| keep(*s))
        .take(TOP_K)
        .map(|(c, _)| *c)
        .collect();
    CohortStats::of_top(&mut top, TOP_K)
}

struct Trial {
    condition: usize,
    genuine: bool,
    cosine: f32,
    feats: [f64; CALIBRATION_WEIGHTS],
    llr: f64,
    accepted: bool,
}

/// Trials among the speakers `among` (enrolled ones with genuine files left,
/// against every file of every speaker in the set), normalised against the
/// cohort of speakers `cohort` but the two of each trial. Refused probes are
/// counted as trials with no features (`cosine` NaN).
fn trials(
    data: &Data,
    among: &dyn Fn(usize) -> bool,
    cohort: &dyn Fn(usize) -> bool,
) -> Vec<Trial> {
    let n = data.speakers.len();
    let mut out = Vec::new();
    for a in (0..n).filter(|a| among(*a) && data.speakers[*a].files.len() > ENROLL_FILES) {
        for b in (0..n).filter(|b| among(*b)) {
            let first = if a == b { ENROLL_FILES } else { 0 };
            for f in first..data.speakers[b].files.len() {
                for (c, probe) in data.probes[b][f].iter().enumerate() {
                    let Probe::Scored { embedding, quality } = probe else {
                        out.push(Trial {
                            condition: c,
                            genuine: a == b,
                            cosine: f32::NAN,
                            feats: [0.0; CALIBRATION_WEIGHTS],
                            llr: f64::NEG_INFINITY,
                            accepted: false,
                        });
                        continue;
                    };
                    let (closest, cosine) = closest_centroid(&data.prints[a], embedding);
                    let k = data.prints[a]
                        .iter()
                        .position(|c| c.condition == closest.condition)
                        .expect("the closest is one of them");
                    let keep = |s: usize| cohort(s) && s != a && s != b;
                    let normalised = as_norm(
                        cosine,
                        stats(&data.cosines.centroids[a][k], &keep),
                        stats(&data.cosines.probes[b][f][c], &keep),
                    );
                    out.push(Trial {
                        condition: c,
                        genuine: a == b,
                        cosine,
                        feats: features(normalised, quality),
                        llr: 0.0,
                        accepted: false,
                    });
                }
            }
        }
    }
    out
}

struct Fit {
    weights: Vec<f64>,
    threshold: f64,
}

impl Fit {
    /// Logistic regression on the trials among `speakers` (cohort: the same
    /// speakers), classes weighted equally, then the threshold.
    fn on(data: &Data, speakers: &dyn Fn(usize) -> bool) -> Self {
        let mut trials = trials(data, speakers, speakers);
        trials.retain(|t| !t.cosine.is_nan());
        let weights = logistic(&trials);
        let mut fit = Self {
            weights,
            threshold: 0.0,
        };
        let llrs: Vec<(usize, f64)> = trials
            .iter()
            .filter(|t| !t.genuine)
            .map(|t| (t.condition, fit.llr(t)))
            .collect();
        fit.threshold = (0..CONDITIONS.len())
            .map(|c| {
                let mut v: Vec<f64> = llrs
                    .iter()
                    .filter(|(k, _)| *k == c)
                    .map(|(_, l)| *l)
                    .collect();
                v.sort_by(|a, b| b.total_cmp(a));
                // The least threshold letting at most TARGET_FAR of them pass.
                let allowed = (TARGET_FAR * v.len() as f64).floor() as usize;
                v.get(allowed).map_or(f64::NEG_INFINITY, |l| l + 1e-6)
            })
            .fold(f64::NEG_INFINITY, f64::max);
        fit
    }

    fn llr(&self, t: &Trial) -> f64 {
        t.feats.iter().zip(&self.weights).map(|(f, w)| f * w).sum()
    }
}

/// Class-balanced, lightly ridge-regularised logistic regression by Newton's method.
fn logistic(trials: &[Trial]) -> Vec<f64> {
    const D: usize = CALIBRATION_WEIGHTS;
    let genuine = trials.iter().filter(|t| t.genuine).count() as f64;
    let impostor = trials.len() as f64 - genuine;
    let mut w = [0.0f64; D];
    w[1] = 1.0;
    for _ in 0..30 {
        let mut grad = [0.0f64; D];
        let mut hess = [[0.0f64; D]; D];
        for t in trials {
            let (y, weight) = if t.genuine {
                (1.0, 0.5 / genuine)
            } else {
                (0.0, 0.5 / impostor)
            };
            let z: f64 = t.feats.iter().zip(&w).map(|(f, w)| f * w).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            for (i, row) in hess.iter_mut().enumerate() {
                grad[i] += weight * (p - y) * t.feats[i];
                for (h, fj) in row.iter_mut().zip(&t.feats) {
                    *h += weight * p * (1.0 - p) * t.feats[i] * fj;
                }
            }
        }
        for i in 0..D {
            grad[i] += 1e-4 * w[i];
            hess[i][i] += 1e-4;
        }
        let step = solve(hess, grad);
        let mut moved = 0.0f64;
        for i in 0..D {
            w[i] -= step[i];
            moved = moved.max(step[i].abs());
        }
        if moved < 1e-7 {
            break;
        }
    }
    // The regression's log-odds at equal priors is the LLR.
    w.to_vec()
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
fn solve<const D: usize>(mut a: [[f64; D]; D], mut b: [f64; D]) -> [f64; D] {
    for col in 0..D {
        let pivot = (col..D)
            .max_by(|x, y| a[*x][col].abs().total_cmp(&a[*y][col].abs()))
            .expect("rows");
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..D {
            let k = a[row][col] / pivot_row[col];
            for (x, p) in a[row].iter_mut().zip(&pivot_row).skip(col) {
                *x -= k * p;
            }
            b[row] -= k * b[col];
        }
    }
    let mut x = [0.0; D];
    for row in (0..D).rev() {
        let s: f64 = (row + 1..D).map(|j| a[row][j] * x[j]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x
}

fn report(trials: &[Trial]) {
    println!(
        "held-out speakers, 5-fold cross-validation; threshold per fold: no condition over {} % \
         FAR on the fitting speakers; FR+ref counts gate refusals as rejections; LLR gen/imp: \
         mean calibrated score of the genuine and impostor trials",
        TARGET_FAR * 100.0
    );
    println!(
        "{:<14} {:>7} {:>8} {:>7} {:>10} {:>10} {:>7} {:>7} {:>7} {:>6} {:>8} {:>8}",
        "condition",
        "genuine",
        "impostor",
        "refused",
        "EER cos",
        "EER cal",
        "FA",
        "FR",
        "FR+ref",
        "Cllr",
        "LLR gen",
        "LLR imp"
    );
    let mut rows: Vec<(String, Vec<&Trial>)> = CONDITIONS
        .iter()
        .enumerate()
        .map(|(c, name)| {
            (
                name.to_string(),
                trials.iter().filter(|t| t.condition == c).collect(),
            )
        })
        .collect();
    rows.push((
        "degraded".into(),
        trials.iter().filter(|t| t.condition != 0).collect(),
    ));
    rows.push(("all pooled".into(), trials.iter().collect()));
    for (name, ts) in rows {
        let scored: Vec<&&Trial> = ts.iter().filter(|t| !t.cosine.is_nan()).collect();
        let split = |f: &dyn Fn(&Trial) -> f64| -> (Vec<f64>, Vec<f64>) {
            (
                scored.iter().filter(|t| t.genuine).map(|t| f(t)).collect(),
                scored.iter().filter(|t| !t.genuine).map(|t| f(t)).collect(),
            )
        };
        let (gc, ic) = split(&|t| f64::from(t.cosine));
        let (gl, il) = split(&|t| t.llr);
        let genuine = ts.iter().filter(|t| t.genuine).count();
        let impostor = ts.len() - genuine;
        let fa = scored.iter().filter(|t| !t.genuine && t.accepted).count() as f64
            / il.len().max(1) as f64;
        let fr = scored.iter().filter(|t| t.genuine && !t.accepted).count() as f64
            / gl.len().max(1) as f64;
        let fr_all =
            ts.iter().filter(|t| t.genuine && !t.accepted).count() as f64 / genuine.max(1) as f64;
        let cllr = 0.5
            * (gl.iter().map(|l| (1.0 + (-l).exp()).log2()).sum::<f64>() / gl.len().max(1) as f64
                + il.iter().map(|l| (1.0 + l.exp()).log2()).sum::<f64>() / il.len().max(1) as f64);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        println!(
            "{name:<14} {genuine:>7} {impostor:>8} {:>7} {:>9.2}% {:>9.2}% {:>6.2}% {:>6.2}% {:>6.2}% {:>6.3} {:>8.2} {:>8.2}",
            ts.len() - scored.len(),
            eer(&gc, &ic) * 100.0,
            eer(&gl, &il) * 100.0,
            fa * 100.0,
            fr * 100.0,
            fr_all * 100.0,
            cllr,
            mean(&gl),
            mean(&il)
        );
    }
}

/// Equal error rate: the mean of FAR and FRR where they are closest.
fn eer(genuine: &[f64], impostor: &[f64]) -> f64 {
    if genuine.is_empty() || impostor.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = genuine
        .iter()
        .map(|s| (*s, true))
        .chain(impostor.iter().map(|s| (*s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Threshold just above position i: genuine below it are rejected,
    // impostors above it accepted.
    let (g, im) = (genuine.len() as f64, impostor.len() as f64);
    let (mut rejected, mut accepted) = (0.0, im);
    let mut best = (f64::INFINITY, 0.0);
    for (_, is_genuine) in &all {
        if *is_genuine {
            rejected += 1.0;
        } else {
            accepted -= 1.0;
        }
        let (frr, far) = (rejected / g, accepted / im);
        if (frr - far).abs() < best.0 {
            best = ((frr - far).abs(), (frr + far) / 2.0);
        }
    }
    best.1
}

fn write_calibration(fit: &Fit, prints: &[Vec<mixdown_voice::Centroid>]) {
    let cohort: Vec<Embedding> = prints
        .iter()
        .flat_map(|cs| cs.iter().map(|c| c.embedding.clone()))
        .collect();
    let params = CalibrationParams {
        model: MODEL_VERSION.to_string(),
        top_k: TOP_K,
        weights: fit.weights.clone(),
        threshold: fit.threshold,
        provenance: format!(
            "examples/calibrate.rs --write: cohort = the clean, noisy, reverberant and telephone \
             centroids of the {} speakers of testdata/voice and testdata/voice-calibration; \
             weights = class-balanced logistic regression on all their trials in {} conditions; \
             threshold = least at which no condition's false-accept rate exceeds {} %",
            prints.len(),
            CONDITIONS.len(),
            TARGET_FAR * 100.0
        ),
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let json = serde_json::to_string_pretty(&params).expect("serialises");
    std::fs::write(dir.join("calibration.json"), json + "\n").expect("write calibration.json");
    std::fs::write(dir.join("cohort.bin"), Calibration::cohort_bytes(&cohort))
        .expect("write cohort.bin");
    Calibration::new(params, cohort).expect("a valid calibration");
    println!("wrote {}", dir.display());
}
