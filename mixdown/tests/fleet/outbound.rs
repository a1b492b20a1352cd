//! The requests a real `mixdown dev` sends for tenants: proxies named in its
//! environment are not used (a proxy resolves the host itself, past the
//! address filter), and a host whose name does not resolve is refused in the
//! very words of one that resolves to a private address.

use std::{io::ErrorKind, net::TcpListener, time::Duration};

use serde_json::{Value, json};

use crate::harness::{Client, start_dev_with};

/// Submits an `http` job of one attempt GETting `url`; the job once ended.
async fn fetched(client: &Client, url: &str) -> Value {
    let id = client
        .submit(json!({"kind": "http", "max_attempts": 1,
            "payload": {"url": url, "method": "GET", "timeout_ms": 2000}}))
        .await;
    let ended = client.wait_all(&[id], Duration::from_secs(30)).await;
    ended.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_jobs_ignore_proxies_named_in_the_environment() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let data = tempfile::tempdir().unwrap();
    let mut settings = vec![("MIXDOWN_CALLBACK_ALLOW_PRIVATE", "true")];
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        settings.push((name, proxy_url.as_str()));
    }
    let (_dev, client) = start_dev_with(data.path().to_str().unwrap(), &settings);

    let job = fetched(&client, &format!("{}/healthz", client.base)).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["status"], 200, "{job}");
    proxy.set_nonblocking(true).unwrap();
    let accepted = proxy.accept().map(|(_, from)| from);
    assert!(
        matches!(&accepted, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the request went through the proxy: {accepted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_host_is_refused_like_a_private_one() {
    let data = tempfile::tempdir().unwrap();
    let (_dev, client) = start_dev_with(data.path().to_str().unwrap(), &[]);
    let mut told = Vec::new();
    for url in [
        "http://no-such-host.invalid/hook",
        "http://localhost:9/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
    ] {
        let job = fetched(&client, url).await;
        assert_eq!(job["state"], "failed", "{url}: {job}");
        told.push((
            job["error"]["code"].clone(),
            job["error"]["message"].clone(),
        ));
    }
    assert_eq!(told[0].0, "http_address_refused", "{told:?}");
    assert!(
        told.iter().all(|t| *t == told[0]),
        "one code, one message: {told:?}"
    );
}
