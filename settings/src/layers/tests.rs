use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use super::*;
use crate::{Millis, Secret, settings};

settings! {
    /// Settings of a pretend crate.
    struct Example {
        /// address it listens on
        listen: SocketAddr = "127.0.0.1:8080", "EX_LISTEN";
        /// attempts at once
        concurrency: u32 = "8", "EX_CONCURRENCY";
        /// time between looks
        poll_interval_ms: Millis = "50", "EX_POLL_INTERVAL_MS";
        /// where it keeps things
        cache: PathBuf = "${XDG_CACHE_HOME:-$HOME/.cache}/ex", "EX_CACHE";
        /// a password
        database_url: Option<Secret<String>> = "", "EX_DATABASE_URL";
    }
}

fn load(file: Option<&Path>, env: &[(&str, &str)]) -> Result<Layers, SettingsError> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Layers::load(&[Example::FIELDS], file, move |k| env.get(k).cloned())
}

#[test]
fn nothing_set_means_the_declared_defaults() {
    let s: Example = load(None, &[("HOME", "/home/u")]).unwrap().build().unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.poll_interval_ms.get().as_millis(), 50);
    assert_eq!(s.cache, PathBuf::from("/home/u/.cache/ex"));
    assert!(s.database_url.is_none());
    assert_eq!(Example::default().concurrency, 8);
}

#[test]
fn a_bad_value_is_named_with_its_source_and_a_secret_is_not() {
    let layers = load(None, &[("EX_LISTEN", "nowhere")]).unwrap();
    let err = layers.build::<Example>().unwrap_err().to_string();
    assert!(
        err.starts_with("invalid setting EX_LISTEN=\"nowhere\": "),
        "{err}"
    );
    let mut layers = load(None, &[]).unwrap();
    layers.flag("concurrency", "--concurrency", Some("many".into()));
    let err = layers.build::<Example>().unwrap_err().to_string();
    assert!(err.contains("--concurrency=\"many\""), "{err}");
}

#[test]
fn the_environment_overrides_the_file_and_flags_override_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixdown.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:1\"\nconcurrency = 3\n").unwrap();
    let mut layers = load(Some(&path), &[("EX_LISTEN", "127.0.0.1:2")]).unwrap();
    let s: Example = layers.build().unwrap();
    assert_eq!((s.listen.port(), s.concurrency), (2, 3));
    assert_eq!(layers.origin("listen"), Origin::Env("EX_LISTEN"));
    let from_file = layers.origin("concurrency").to_string();
    assert!(from_file.starts_with("concurrency in "), "{from_file}");
    layers.flag("listen", "--listen", Some("127.0.0.1:3".into()));
    assert_eq!(layers.build::<Example>().unwrap().listen.port(), 3);
    assert_eq!(
        layers.origin("poll_interval_ms"),
        Origin::Default("poll_interval_ms")
    );
}

#[test]
fn unknown_and_malformed_file_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixdown.toml");
    std::fs::write(&path, "lisen = \"x\"\n").unwrap();
    let err = load(Some(&path), &[]).err().unwrap().to_string();
    assert!(err.contains("unknown setting \"lisen\""), "{err}");
    std::fs::write(&path, "listen = [1]\n").unwrap();
    let err = load(Some(&path), &[]).err().unwrap().to_string();
    assert!(err.contains("must be a string or a number"), "{err}");
}

#[test]
fn secrets_never_show() {
    let env = [("EX_DATABASE_URL", "postgres://u:hunter2@h/db")];
    let s: Example = load(None, &env).unwrap().build().unwrap();
    let entries = s.entries();
    let url = entries.iter().find(|(k, _)| *k == "database_url").unwrap();
    assert_eq!(url.1, "***");
    assert!(!format!("{s:?}").contains("hunter2"));
    assert!(
        Example::FIELDS
            .iter()
            .find(|f| f.key == "database_url")
            .unwrap()
            .secret
    );
}
