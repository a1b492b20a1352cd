//! A voice request that stops mid-body leaves nothing for good: a client
//! that hangs up has its samples deleted by the request itself, and what an
//! API process killed mid-request leaves (samples stored before their rows,
//! a staged file) is swept by the janitor once old enough, while a staged
//! file still being written is not.

use std::time::Duration;

use bytes::Bytes;
use mixdown_jobs::{
    objects::{ObjectKey, ObjectStore},
    voice::new_sample_key,
};
use tokio::io::AsyncWriteExt;

use super::{key, tone, voice_app};
use crate::{TestApp, events::serve_with};

both_modes!(a_request_dropped_mid_upload_leaves_nothing_once_swept);

/// The multipart body of an enrollment: `user_id`, then two samples.
fn enrollment(sample: &[u8]) -> Vec<u8> {
    let part = |name: &str| {
        format!(
            "--B\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"s.wav\"\r\n\
             Content-Type: audio/wav\r\n\r\n"
        )
    };
    let mut body =
        b"--B\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nann\r\n".to_vec();
    for _ in 0..2 {
        body.extend(part("sample").as_bytes());
        body.extend(sample);
        body.extend(b"\r\n");
    }
    body.extend(b"--B--\r\n");
    body
}

/// What is stored under the tenant's samples: objects, and in a directory
/// the staged files beside them.
async fn stored(app: &TestApp) -> Vec<String> {
    let prefix = format!("voice/{}/", app.tenant);
    let objects = app.stores.objects.list("voice").await.unwrap();
    let mut found: Vec<String> = objects
        .into_iter()
        .map(|o| o.key.as_str().to_owned())
        .filter(|k| k.starts_with(&prefix))
        .collect();
    if let ObjectStore::Dir(dir) = &app.stores.objects {
        let tenant_dir = dir.path_of(&ObjectKey::new(format!("voice/{}", app.tenant)).unwrap());
        for entry in std::fs::read_dir(tenant_dir).into_iter().flatten() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.contains(".part-") {
                found.push(name);
            }
        }
    }
    found
}

/// Sends the headers and the body up to the middle of the second sample,
/// waits until the first sample is stored, then hangs up.
async fn hang_up_mid_body(url: &str, bearer: &str, body: &[u8], app: &TestApp) {
    let addr = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/voice/enrollments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {bearer}\r\n\
         Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let sent = body.len() * 3 / 4;
    socket.write_all(&body[..sent]).await.unwrap();
    socket.flush().await.unwrap();
    for _ in 0..200 {
        if !stored(app).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(socket);
    // Let the server notice the hang-up and do what it does about it.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

async fn a_request_dropped_mid_upload_leaves_nothing_once_swept(app: &TestApp) {
    let fleet = super::fleet(3, key());
    let app = voice_app(app, fleet.clone(), mixdown_testkit::voice_model()).await;
    let served = serve_with(app.stores.clone(), fleet).await;
    let body = enrollment(&tone());
    hang_up_mid_body(&served.url, &app.bearer(), &body, &app).await;
    assert_eq!(
        stored(&app).await,
        Vec::<String>::new(),
        "the request cleaned up"
    );

    // What a process killed between storing a sample and writing its row
    // leaves, and a staged file being written now.
    let orphan = new_sample_key(app.tenant);
    let sample = Bytes::from(tone());
    app.stores.objects.put_bytes(&orphan, sample).await.unwrap();
    let in_flight = match &app.stores.objects {
        ObjectStore::Dir(dir) => {
            let path = dir
                .path_of(&new_sample_key(app.tenant))
                .with_extension("part-0");
            std::fs::write(&path, b"RIFF").unwrap();
            Some(path)
        }
        ObjectStore::S3(_) => None,
    };
    let left = stored(&app).await;
    app.advance(Duration::from_secs(61));
    app.run_due().await;
    if let Some(path) = &in_flight {
        assert!(path.exists(), "a staged file in flight was swept");
    }
    assert_eq!(stored(&app).await, left, "young objects were swept");

    // A day on, nothing of the request is left.
    app.advance(Duration::from_secs(25 * 60 * 60));
    app.run_due().await;
    assert_eq!(stored(&app).await, Vec::<String>::new());
    drop(served);
    app.stop().await;
}
