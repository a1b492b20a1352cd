//! The voice API end to end: real speech from the shared corpus, the real
//! encoder, both store trios, a worker in process.

use std::{path::PathBuf, time::Duration};

use mixdown_api::ApiSettings;
use mixdown_jobs::{
    db::ScoredAttempt,
    ids::JobId,
    objects::{ObjectKey, ObjectStore},
    seal::{SealKey, SealKeys},
    settings::JobsSettings,
    voice::{UserId, print_binding},
};
use mixdown_worker::WorkerSettings;
use poem::{
    http::StatusCode,
    test::{TestForm, TestFormField},
};
use serde_json::{Value, json};

use super::{TestApp, error_code, read};

both_modes!(
    a_speaker_enrolls_is_verified_locked_out_and_forgotten,
    a_bad_sample_fails_the_enrollment_with_its_code_and_index,
    repeated_rejections_lock_verification_unless_the_lock_is_off,
    bad_voice_uploads_get_precise_errors_and_leave_nothing,
    a_voice_job_without_the_model_fails_for_good,
);

mod orphans;

/// Largest sample the test API takes.
const MAX_SAMPLE_BYTES: u64 = 2 << 20;

/// The lockout window of the test fleet.
const LOCKOUT: Duration = Duration::from_secs(900);

/// A fresh voice key.
fn key() -> SealKey {
    SealKey::from_base64(&SealKey::generate_base64()).unwrap()
}

/// The fleet's voice rules in tests: 3 samples an enrollment, 3 rejections
/// lock (`max_failures`) for 15 minutes, prints sealed under `key`.
fn fleet(max_failures: u32, key: SealKey) -> JobsSettings {
    JobsSettings {
        voice_key: Some(key),
        voice_max_failures: max_failures,
        voice_lockout_secs: LOCKOUT.into(),
        ..super::fleet_settings()
    }
}

/// An app over `app`'s stores whose worker runs the voice queues with the
/// encoder at `model`.
async fn voice_app(app: &TestApp, fleet: JobsSettings, model: PathBuf) -> TestApp {
    let api = ApiSettings {
        voice_max_sample_bytes: MAX_SAMPLE_BYTES,
        ..super::api_settings()
    };
    let worker = WorkerSettings {
        voice_model: model,
        ..super::worker_settings()
    };
    TestApp::with(app.stores.clone(), app.clock.clone(), api, fleet, worker).await
}

/// A corpus recording as uploaded.
fn corpus(name: &str) -> Vec<u8> {
    let path = mixdown_testkit::voice_data().join(format!("{name}.wav"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A recording as a telephone line passes it on: 300–3400 Hz, GSM 06.10 by
/// ffmpeg, decoded to an 8 kHz WAV.
fn telephone(wav: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (input, coded, output) = (
        dir.path().join("in.wav"),
        dir.path().join("line.gsm"),
        dir.path().join("out.wav"),
    );
    std::fs::write(&input, wav).unwrap();
    let ffmpeg = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg is installed (scripts/setup.sh lists it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let arg = std::ffi::OsStr::new;
    ffmpeg(&[
        arg("-i"),
        input.as_os_str(),
        arg("-af"),
        arg("highpass=f=300,lowpass=f=3400"),
        arg("-ar"),
        arg("8000"),
        arg("-c:a"),
        arg("libgsm"),
        coded.as_os_str(),
    ]);
    ffmpeg(&[arg("-i"), coded.as_os_str(), output.as_os_str()]);
    std::fs::read(output).unwrap()
}

fn tone() -> Vec<u8> {
    let rate = 16_000.0;
    let x: Vec<f32> = (0..48_000)
        .map(|i| 0.25 * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / rate).sin())
        .collect();
    mixdown_testkit::wav(&x, 16_000)
}

fn silence() -> Vec<u8> {
    mixdown_testkit::wav(&[0.0; 48_000], 16_000)
}

impl TestApp {
    /// Posts a voice form as `bearer`; answers status, body and Retry-After.
    async fn post_form(
        &self,
        path: &str,
        bearer: &str,
        form: TestForm,
    ) -> (StatusCode, Value, Option<String>) {
        let resp = self
            .client
            .post(path)
            .header("Authorization", bearer)
            .multipart(form)
            .send()
            .await;
        let retry_after = resp
            .0
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = read(resp).await;
        (status, body, retry_after)
    }

    /// Uploads `samples` for `user` to a voice endpoint.
    async fn upload(
        &self,
        path: &str,
        user: &str,
        samples: &[Vec<u8>],
    ) -> (StatusCode, Value, Option<String>) {
        let mut form = TestForm::new().text("user_id", user);
        for (i, s) in samples.iter().enumerate() {
            form = form.field(
                TestFormField::bytes(s.clone())
                    .name("sample")
                    .filename(format!("{i}.wav")),
            );
        }
        self.post_form(path, &self.bearer(), form).await
    }

    /// Runs a voice job to its end; answers the job.
    async fn voice_job(&self, path: &str, user: &str, samples: &[Vec<u8>]) -> Value {
        let (status, accepted, _) = self.upload(path, user, samples).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        self.run_due().await;
        let job = self.job(accepted["job_id"].as_str().unwrap()).await;
        assert!(
            ["succeeded", "failed"].contains(&job["state"].as_str().unwrap()),
            "{job}"
        );
        job
    }

    async fn enroll(&self, user: &str, samples: &[Vec<u8>]) -> Value {
        self.voice_job("/v1/voice/enrollments", user, samples).await
    }

    async fn verify(&self, user: &str, sample: Vec<u8>) -> Value {
        self.voice_job("/v1/voice/verifications", user, &[sample])
            .await
    }

    async fn delete(&self, path: &str, bearer: &str) -> StatusCode {
        self.client
            .delete(path)
            .header("Authorization", bearer)
            .send()
            .await
            .0
            .status()
    }

    /// Sample keys a job's payload names, each checked to be gone.
    async fn assert_samples_gone(&self, job: &Value) {
        let p = &job["payload"];
        let keys = p["samples"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![p["sample"].clone()]);
        assert!(!keys.is_empty());
        for key in keys {
            let key = ObjectKey::new(key.as_str().unwrap()).unwrap();
            assert_eq!(
                self.stores.objects.size(&key).await.unwrap(),
                None,
                "{key} kept"
            );
        }
        let user = UserId::parse(p["user_id"].as_str().unwrap()).unwrap();
        let rows = self
            .stores
            .db
            .voice
            .samples(self.tenant, &user)
            .await
            .unwrap();
        assert_eq!(rows, Vec::new());
    }
}

async fn a_speaker_enrolls_is_verified_locked_out_and_forgotten(app: &TestApp) {
    let key = key();
    let keys = SealKeys::new(key.clone(), Vec::new());
    let app = voice_app(app, fleet(3, key), mixdown_testkit::voice_model()).await;
    let enrollment: Vec<Vec<u8>> = ["002", "003", "004"]
        .map(|n| corpus(&format!("vctk-p225_{n}")))
        .into();
    let job = app.enroll("alice", &enrollment).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["samples"], 3);
    app.assert_samples_gone(&job).await;

    let (status, print) = app.get("/v1/voice/alice").await;
    assert_eq!(status, StatusCode::OK, "{print}");
    assert_eq!(
        (print["user_id"].as_str(), print["samples"].as_u64()),
        (Some("alice"), Some(3))
    );
    assert!(print["model"].as_str().unwrap().starts_with("ge2e"));
    assert!(print["speech_seconds"].as_f64().unwrap() > 3.0);
    assert!(print["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(print.get("embedding").is_none(), "{print}");

    let alice = UserId::parse("alice").unwrap();
    let stored = app
        .stores
        .db
        .voice
        .print(app.tenant, &alice)
        .await
        .unwrap()
        .unwrap();
    let sealed = &stored.sealed;
    assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains("embedding"));
    let binding = print_binding(app.tenant, &alice);
    let plain = keys.open(sealed, &binding).unwrap();
    assert!(String::from_utf8_lossy(&plain).contains("embedding"));
    let wrong = SealKeys::new(self::key(), Vec::new());
    assert!(
        wrong.open(sealed, &binding).is_err(),
        "a wrong key opens it"
    );

    let (_, print) = app.get("/v1/voice/alice").await;
    assert_eq!(
        (&print["verifications"], &print["accepts"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(print["last_verified_at"], Value::Null, "{print}");

    let genuine = app.verify("alice", corpus("vctk-p225_005")).await;
    assert_eq!(genuine["state"], "succeeded", "{genuine}");
    let verdict = &genuine["result"];
    let threshold = verdict["threshold"].as_f64().unwrap();
    assert_eq!(verdict["accepted"], true, "{verdict}");
    assert!(verdict["score"].as_f64().unwrap() >= threshold, "{verdict}");
    let quality = &verdict["quality"];
    assert_eq!(quality["narrow_band"], false, "{verdict}");
    assert!(quality["snr_db"].as_f64().unwrap() > 26.0, "{verdict}");
    assert!(
        quality["speech_seconds"].as_f64().unwrap() > 3.0,
        "{verdict}"
    );
    for measure in ["decay_db_per_s", "floor_flatness"] {
        assert!(quality[measure].as_f64().is_some(), "{verdict}");
    }
    assert!(verdict["cosine"].as_f64().unwrap() > 0.5, "{verdict}");
    app.assert_samples_gone(&genuine).await;

    let other = app
        .stores
        .db
        .tenants
        .create_key(&format!("o-{}", mixdown_testkit::unique()))
        .await
        .unwrap();
    let theirs = format!("Bearer {}", other.key);
    let resp = app
        .client
        .get("/v1/voice/alice")
        .header("Authorization", &theirs)
        .send()
        .await;
    assert_eq!(read(resp).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete("/v1/voice/alice", &theirs).await,
        StatusCode::NOT_FOUND
    );

    for n in ["002", "003", "004"] {
        // Later than the acceptance: rejections count from the last one.
        app.advance(Duration::from_secs(1));
        let impostor = app.verify("alice", corpus(&format!("vctk-p226_{n}"))).await;
        let verdict = &impostor["result"];
        assert_eq!(verdict["accepted"], false, "{impostor}");
        assert!(verdict["score"].as_f64().unwrap() < threshold);
    }
    let (_, print) = app.get("/v1/voice/alice").await;
    assert_eq!(print["verifications"].as_u64(), Some(4), "{print}");
    assert_eq!(print["accepts"].as_u64(), Some(1), "{print}");
    let (status, err, retry_after) = app
        .upload(
            "/v1/voice/verifications",
            "alice",
            &[corpus("vctk-p225_006")],
        )
        .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::TOO_MANY_REQUESTS, "verification_locked"),
        "{err}"
    );
    let wait: u64 = retry_after.expect("Retry-After").parse().unwrap();
    // The first of the three rejections, two seconds before the last,
    // leaves the window first.
    assert_eq!(wait, LOCKOUT.as_secs() - 2);
    // Once the window has passed, alice may try again.
    app.advance(LOCKOUT + Duration::from_secs(1));
    let again = app.verify("alice", corpus("vctk-p225_006")).await;
    assert_eq!(again["result"]["accepted"], true, "{again}");

    // Through a GSM telephone line: the same calibrated threshold, the
    // condition read from the sample.
    let phone = app
        .verify("alice", telephone(&corpus("vctk-p225_007")))
        .await;
    let verdict = &phone["result"];
    assert_eq!(verdict["quality"]["narrow_band"], true, "{phone}");
    assert_eq!(verdict["threshold"].as_f64(), Some(threshold), "{phone}");
    let (_, print) = app.get("/v1/voice/alice").await;
    let accepts = 2 + u64::from(verdict["accepted"] == true);
    assert_eq!(
        (print["verifications"].as_u64(), print["accepts"].as_u64()),
        (Some(6), Some(accepts)),
        "{print}"
    );
    assert!(print["last_verified_at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(
        app.delete("/v1/voice/alice", &app.bearer()).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/v1/voice/alice").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete("/v1/voice/alice", &app.bearer()).await,
        StatusCode::NOT_FOUND
    );
    let after = app.verify("alice", corpus("vctk-p225_006")).await;
    assert_eq!(
        (after["state"].as_str(), after["error"]["code"].as_str()),
        (Some("failed"), Some("not_enrolled"))
    );
    app.stop().await;
}

async fn a_bad_sample_fails_the_enrollment_with_its_code_and_index(app: &TestApp) {
    let app = voice_app(app, fleet(3, key()), mixdown_testkit::voice_model()).await;
    let good = |n: &str| corpus(&format!("arctic-slt_a000{n}"));
    let cases = [
        (
            vec![good("1"), silence(), good("2")],
            "too_quiet",
            "sample 1:",
        ),
        (
            vec![tone(), good("1"), good("2")],
            "not_speech",
            "sample 0:",
        ),
        (
            vec![good("1"), good("2"), b"just some text".to_vec()],
            "unsupported_format",
            "sample 2:",
        ),
    ];
    for (samples, code, names) in cases {
        let job = app.enroll("bob", &samples).await;
        assert_eq!(
            (job["state"].as_str(), job["error"]["code"].as_str()),
            (Some("failed"), Some(code)),
            "{job}"
        );
        let message = job["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(names), "{message}");
        assert_eq!(job["attempts"], 1, "bad audio is not retried");
        app.assert_samples_gone(&job).await;
    }
    assert_eq!(app.get("/v1/voice/bob").await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn repeated_rejections_lock_verification_unless_the_lock_is_off(app: &TestApp) {
    let app = voice_app(app, fleet(3, key()), mixdown_testkit::voice_model()).await;
    let carol = UserId::parse("carol").unwrap();
    for score in [0.2, 0.3, 0.1] {
        let attempt = ScoredAttempt {
            job_id: JobId::new(),
            accepted: false,
            score,
        };
        app.stores
            .db
            .voice
            .record_verification(app.tenant, &carol, attempt)
            .await
            .unwrap();
    }
    let (status, err, retry_after) = app
        .upload("/v1/voice/verifications", "carol", &[silence()])
        .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::TOO_MANY_REQUESTS, "verification_locked")
    );
    assert!(retry_after.is_some());
    let (_, page) = app.get("/v1/jobs").await;
    assert_eq!(
        page["jobs"],
        json!([]),
        "a refused verification leaves no job"
    );

    let unlocked = voice_app(&app, fleet(0, key()), mixdown_testkit::voice_model()).await;
    for score in [0.2, 0.3, 0.1] {
        let attempt = ScoredAttempt {
            job_id: JobId::new(),
            accepted: false,
            score,
        };
        unlocked
            .stores
            .db
            .voice
            .record_verification(unlocked.tenant, &carol, attempt)
            .await
            .unwrap();
    }
    let job = unlocked.verify("carol", silence()).await;
    assert_eq!(job["error"]["code"], "not_enrolled", "{job}");
    unlocked.assert_samples_gone(&job).await;
    unlocked.stop().await;
    app.stop().await;
}

async fn bad_voice_uploads_get_precise_errors_and_leave_nothing(app: &TestApp) {
    let app = voice_app(app, fleet(3, key()), mixdown_testkit::voice_model()).await;
    let sample = || {
        TestFormField::bytes(silence())
            .name("sample")
            .filename("s.wav")
    };
    let enroll = "/v1/voice/enrollments";
    let verify = "/v1/voice/verifications";
    let cases: Vec<(&str, TestForm, StatusCode, &str)> = vec![
        (
            verify,
            TestForm::new().field(sample()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            verify,
            TestForm::new().text("user_id", "dave"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            verify,
            TestForm::new().text("user_id", "a b").field(sample()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            verify,
            TestForm::new()
                .text("user_id", "x".repeat(129))
                .field(sample()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            verify,
            TestForm::new()
                .text("user_id", "dave")
                .field(sample())
                .field(sample()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_samples",
        ),
        (
            verify,
            TestForm::new()
                .text("user_id", "dave")
                .field(sample())
                .text("colour", "red"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
        ),
        (
            enroll,
            TestForm::new()
                .text("user_id", "dave")
                .field(sample())
                .field(sample()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_enough_samples",
        ),
        (
            enroll,
            TestForm::new()
                .text("user_id", "dave")
                .field(sample())
                .field(
                    TestFormField::bytes(vec![0u8; MAX_SAMPLE_BYTES as usize + 1]).name("sample"),
                ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (path, form, status, code) in cases {
        let (got, body, _) = app.post_form(path, &app.bearer(), form).await;
        assert_eq!((got, error_code(&body)), (status, code), "{path}: {body}");
    }
    let raw = app
        .client
        .post(verify)
        .header("Authorization", app.bearer())
        .content_type("application/json")
        .body("{}")
        .send()
        .await;
    assert_eq!(read(raw).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let broken = app
        .client
        .post(verify)
        .header("Authorization", app.bearer())
        .content_type("multipart/form-data; boundary=X")
        .body("--X\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\ndave")
        .send()
        .await;
    let (status, body) = read(broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .post(
            "/v1/jobs",
            json!({"kind": "voice_verify", "payload": {"user_id": "dave", "sample": "voice/x/y"}}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "kind_not_submittable")
    );
    let anonymous = app
        .client
        .post(verify)
        .multipart(TestForm::new().text("user_id", "dave"))
        .send()
        .await;
    assert_eq!(read(anonymous).await.0, StatusCode::UNAUTHORIZED);

    let (_, page) = app.get("/v1/jobs").await;
    assert_eq!(
        page["jobs"],
        json!([]),
        "no rejected upload may leave a job"
    );
    let dave = UserId::parse("dave").unwrap();
    assert_eq!(
        app.stores
            .db
            .voice
            .samples(app.tenant, &dave)
            .await
            .unwrap(),
        Vec::new()
    );
    if let ObjectStore::Dir(dir) = &app.stores.objects {
        let root = dir.path_of(&ObjectKey::new("voice").unwrap());
        assert_eq!(
            files_under(&root),
            0,
            "rejected uploads left objects under {}",
            root.display()
        );
    }
    let (status, spec) = read(app.client.get("/openapi.json").send().await).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/voice/enrollments",
        "/v1/voice/verifications",
        "/v1/voice/{user_id}",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let form = &spec["paths"]["/v1/voice/enrollments"]["post"]["requestBody"]["content"]["multipart/form-data"]
        ["schema"];
    assert_eq!(
        form["properties"]["sample"]["items"]["format"], "binary",
        "{form}"
    );
    app.stop().await;
}

/// Files in a directory tree (a deleted object leaves its empty directory).
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { files_under(&p) } else { 1 })
        .sum()
}

async fn a_voice_job_without_the_model_fails_for_good(app: &TestApp) {
    let missing = PathBuf::from("/nonexistent/mixdown/pretrained.pt");
    let app = voice_app(app, fleet(3, key()), missing).await;
    let samples = vec![silence(), silence(), silence()];
    let job = app.enroll("erin", &samples).await;
    assert_eq!(
        (job["error"]["code"].as_str(), job["attempts"].as_u64()),
        (Some("voice_model_missing"), Some(1)),
        "{job}"
    );
    app.assert_samples_gone(&job).await;
    app.stop().await;
}
